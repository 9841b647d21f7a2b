"""Learning curve of the relevance model: does ranking by a model trained on analysts' labels beat
the rule score as labels accumulate?

Usage::

    python benchmarks/relevance_learning_curve.py [--home DIR] [--scope full|demo] [--seeds 10] [--noise 0.1]

Data. The demo pipeline over the bundled recorded real feeds (WHO DON, WAHIS/HPAI, ProMED, ECDC,
ReliefWeb, police drop-folder …). ``run_demo`` scores only the last 104 weeks (≈130 alerts), too
few to hold out 20 after 80+ labels, so with ``--scope full`` (default) the script then re-runs
``score_window``, ``assess_incidents`` and ``derive_alerts`` over the whole history
(2000-01-01 to the demo day): ≈450 alerts, the same code paths the DAGs use. ``--home`` reuses a
store already built by this script (or builds it there).

The simulated analyst. Labels come from the documented rules below, applied to the real alerts'
facts and their incidents' lens assessments (first matching rule wins). They encode what a
law-enforcement CBRN analyst cares about — *who* is infected and *whether someone did it* — and
are deliberately NOT the rule score, which adds weights for controlled agents, each unusualness
flag, cue categories and indicators regardless of host:

1. ``intent-or-lab-cue`` relevant: the reports carry an intent cue (theft, smuggling, arrest,
   toxin production, hoax/threat, agroterrorism, confined cluster) or a laboratory cue.
2. ``law-enforcement-intake`` relevant: a law-enforcement intake report is part of the alert.
3. ``tier1-or-eradicated`` relevant: a US Tier 1 select agent (Ebola, Marburg, anthrax, plague,
   foot-and-mouth …) or an eradicated agent.
4. ``select-agent-in-people`` relevant: a select agent (any list) reported in people or in an
   unspecified host — not an animal host — that is a first occurrence in the country, non-endemic
   there or in an unusual host (e.g. human H5N1 cases, Lassa or Rift Valley fever exported).
5. ``non-endemic-cdc-ab`` relevant: a CDC category A or B agent flagged non-endemic in the country.
6. ``animal-outbreak`` not relevant: any other outbreak in an animal host (routine HPAI in poultry
   and wild birds, African swine fever, bluetongue …: veterinary, not police business).
7. ``routine-public-health`` not relevant: everything else (cholera, dengue, measles, polio …
   where none of the above holds).

Protocol. Labels are revealed in batches (10, 20, 40, 80, 160, 320) in a random order (one run
per seed) and, separately, in chronological order of the alert week (the realistic case: the
model ranks alerts newer than every label). At each step the labels are written to
``alert_feedback`` (actor ``simulated-analyst``), ``train_relevance_model`` trains and saves a
model with its card into a temporary models folder, ``load_newest_model`` loads it back, and
both rankings are compared on the alerts *not yet labelled*: precision@20 = share of relevant
alerts among the 20 ranked highest. Below the training minimum (10 labels, 3 of each class) the
ranking falls back to the rule score, as in production. The rule score's ties are broken by tier.

``--noise p`` flips a share p of the revealed labels (not of the held-out truth) to mimic an
inconsistent analyst; the rules above are otherwise noise-free and expressible from the model's
features, which flatters any learner — read the noiseless table as an upper bound.

Besides precision@20 the script prints precision@50 (capped at positives/50 when few relevant
alerts remain held out) and average precision over the whole held-out ranking, because the top 20
are mostly Tier 1 agents that both rankings put first.

The script clears its own ``simulated-analyst`` feedback rows before and after, and refuses a
store that holds anyone else's feedback (it would leak into training); use a scratch home.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from pathlib import Path
from statistics import mean, pstdev

import numpy as np
from sklearn.metrics import average_precision_score

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import delete, select  # noqa: E402

from biotracker.alerts.derive import derive_alerts  # noqa: E402
from biotracker.alerts.lifecycle import record_feedback  # noqa: E402
from biotracker.config import load_settings  # noqa: E402
from biotracker.db.engine import open_store  # noqa: E402
from biotracker.db.tables import alert_feedback, alerts, incident_assessments  # noqa: E402
from biotracker.pipeline import DEMO_START, run_demo  # noqa: E402
from biotracker.schema import Window, as_utc  # noqa: E402
from biotracker.scoring.lens import assess_incidents  # noqa: E402
from biotracker.scoring.relevance import NotEnoughLabels, load_newest_model, rank_alerts, train_relevance_model  # noqa: E402
from biotracker.scoring.relevance.train import precision_at_k  # noqa: E402
from biotracker.scoring.score import score_window  # noqa: E402

ACTOR = "simulated-analyst"
BATCHES = (10, 20, 40, 80, 160, 320)
K = 20
ANIMAL = {"*", "human", ""}


def analyst_label(alert: dict, assessment: dict | None) -> tuple[str, str]:
    """(label, rule name) of the simulated analyst for one alert; see the module docstring."""
    facts = alert.get("features") or {}
    assessment = assessment or {}
    agent = assessment.get("agent_flags") or {}
    unusual = {f["flag"] for f in assessment.get("unusual") or []}
    host = (facts.get("series_key") or "||").split("|")[2]
    if facts.get("intent_cues") or facts.get("lab_cues"):
        return "relevant", "intent-or-lab-cue"
    if facts.get("law_enforcement"):
        return "relevant", "law-enforcement-intake"
    if agent.get("tier1") or agent.get("eradicated"):
        return "relevant", "tier1-or-eradicated"
    in_people = host in ("*", "human", "")
    if agent.get("select_agent") and in_people and unusual & {"first_occurrence", "non_endemic", "unusual_host"}:
        return "relevant", "select-agent-in-people"
    if agent.get("cdc_category") in ("A", "B") and "non_endemic" in unusual:
        return "relevant", "non-endemic-cdc-ab"
    if not in_people:
        return "not-relevant", "animal-outbreak"
    return "not-relevant", "routine-public-health"


def build_store(home: Path, scope: str):
    settings = load_settings({}, home=str(home))
    engine = open_store(settings)
    with engine.connect() as conn:
        have = conn.execute(select(alerts.c.alert_id).limit(1)).first() is not None
    if not have:
        print(f"running the demo pipeline into {home} …", file=sys.stderr)
        demo = run_demo(settings)
        if scope == "full":
            window = Window(DEMO_START, as_utc(demo.digest.day))
            print(f"scoring and alerting over the whole history {window} …", file=sys.stderr)
            score_window(engine, window)
            assess_incidents(engine)
            derive_alerts(engine, window)
    return engine


def truth(engine) -> tuple[list[dict], dict[str, str], dict[str, str]]:
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(alerts).order_by(alerts.c.alert_id)).mappings()]
        assessed = {r["incident_id"]: dict(r) for r in conn.execute(select(incident_assessments)).mappings()}
    labels, rules = {}, {}
    for row in rows:
        labels[row["alert_id"]], rules[row["alert_id"]] = analyst_label(row, assessed.get(row["incident_id"]))
    return rows, labels, rules


def clear(engine) -> None:
    with engine.begin() as conn:
        conn.execute(delete(alert_feedback).where(alert_feedback.c.actor == ACTOR))


def curve(engine, order: list[str], labels: dict[str, str], models_dir: Path, noise: float = 0.0,
          seed: int = 0) -> list[dict]:
    """Reveal labels in ``BATCHES``; a share ``noise`` of revealed labels is flipped (evaluation uses the truth)."""
    clear(engine)
    start = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    flip = np.random.default_rng(1000 + seed).random(len(order)) < noise
    given = 0
    out = []
    y_all = {a: int(lab == "relevant") for a, lab in labels.items()}
    for n in [b for b in BATCHES if b < len(order)]:
        for i, alert_id in enumerate(order[given:n], start=given):
            shown = labels[alert_id] if not flip[i] else ("not-relevant" if labels[alert_id] == "relevant" else "relevant")
            record_feedback(engine, alert_id, shown, ACTOR, start + dt.timedelta(hours=i))
        given = n
        held_out = order[n:]
        y = np.array([y_all[a] for a in held_out])
        try:
            card = train_relevance_model(engine, models_dir)
            model = load_newest_model(models_dir)
            assert model is not None and model.card.model_id == card.model_id, "trained model did not validate"
        except NotEnoughLabels:
            model = None
        rules = rank_alerts(engine, models_dir / "none", held_out, store=False)
        rule_rank = {r.alert_id: -i for i, r in enumerate(rules)}
        rule_scores = np.array([rule_rank[a] for a in held_out])
        if model is not None:
            ranked = rank_alerts(engine, models_dir, held_out, store=False, model=model)
            model_rank = {r.alert_id: -i for i, r in enumerate(ranked)}
            model_scores = np.array([model_rank[a] for a in held_out])
        else:
            model_scores = rule_scores
        cv = model.card.cross_validation if model is not None else None
        gated = model_scores if cv and cv["average_precision"] > cv["rule_average_precision"] else rule_scores
        out.append({"gated": precision_at_k(gated, y, K),"labels": n, "held_out": len(held_out), "base_rate": float(y.mean()),
                    "model": precision_at_k(model_scores, y, K), "rules": precision_at_k(rule_scores, y, K),
                    "model_50": precision_at_k(model_scores, y, 50), "rules_50": precision_at_k(rule_scores, y, 50),
                    "model_ap": average_precision_score(y, model_scores),
                    "rules_ap": average_precision_score(y, rule_scores), "trained": model is not None})
    clear(engine)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="store to build or reuse (default: a temporary folder)")
    parser.add_argument("--scope", choices=("full", "demo"), default="full")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--noise", type=float, default=0.0,
                        help="share of revealed labels flipped, to mimic inconsistent analysts (default 0)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = args.home or Path(tmp) / "home"
        engine = build_store(home, args.scope)
        with engine.connect() as conn:
            others = conn.execute(select(alert_feedback.c.actor).where(alert_feedback.c.actor != ACTOR)).first()
        if others is not None:
            sys.exit(f"{home} already holds analysts' feedback (e.g. by {others.actor!r}); it would leak into "
                     "the simulated labels. Use a scratch --home.")
        rows, labels, rules = truth(engine)
        positives = sum(lab == "relevant" for lab in labels.values())
        print(f"{len(rows)} alerts; simulated analyst: {positives} relevant ({positives / len(rows):.0%}); "
              f"label noise {args.noise:.0%}")
        for name in sorted(set(rules.values())):
            print(f"  {name:26s} {sum(r == name for r in rules.values()):4d}")
        models_dir = Path(tmp) / "models"

        runs = []
        for seed in range(args.seeds):
            order = [r["alert_id"] for r in rows]
            np.random.default_rng(seed).shuffle(order)
            runs.append(curve(engine, order, labels, models_dir / f"seed{seed}", args.noise, seed))
        print(f"\nRandom labelling order, {args.seeds} seeds: precision@{K} on the alerts not yet labelled "
              "(mean ± sd over seeds)")
        print(f"{'labels':>6} {'held-out':>8} {'base rate':>9} {'P@20 model':>12} {'P@20 rules':>12} "
              f"{'P@20 gated':>12} {'P@50 model':>12} {'P@50 rules':>12} {'AP model':>12} {'AP rules':>12} {'trained':>8}")
        for step in range(len(runs[0])):
            cells = [r[step] for r in runs]

            def stat(key: str) -> str:
                values = [c[key] for c in cells]
                return f"{mean(values):.2f} ± {pstdev(values):.2f}"

            print(f"{cells[0]['labels']:>6} {cells[0]['held_out']:>8} {mean(c['base_rate'] for c in cells):>9.2f} "
                  + " ".join(f"{stat(key):>12}" for key in ("model", "rules", "gated", "model_50", "rules_50", "model_ap",
                                                            "rules_ap"))
                  + f" {sum(c['trained'] for c in cells):>5}/{len(cells)}")

        chrono = sorted(rows, key=lambda r: (r["period_start"], r["alert_id"]))
        result = curve(engine, [r["alert_id"] for r in chrono], labels, models_dir / "chrono", args.noise)
        print(f"\nChronological labelling order (oldest alert weeks first; held-out = newer alerts): precision@{K}")
        print(f"{'labels':>6} {'held-out':>8} {'base rate':>9} {'P@20 model':>10} {'P@20 rules':>10} "
              f"{'P@50 model':>10} {'P@50 rules':>10} {'AP model':>8} {'AP rules':>8} {'trained':>8}")
        for c in result:
            print(f"{c['labels']:>6} {c['held_out']:>8} {c['base_rate']:>9.2f} {c['model']:>10.2f} {c['rules']:>10.2f} "
                  f"{c['model_50']:>10.2f} {c['rules_50']:>10.2f} {c['model_ap']:>8.2f} {c['rules_ap']:>8.2f} "
                  f"{'yes' if c['trained'] else 'no':>8}")


if __name__ == "__main__":
    main()
