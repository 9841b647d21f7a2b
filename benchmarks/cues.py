"""Accuracy (and speed) of the intent/accident cue finder against the hand-labelled set.

    python benchmarks/cues.py [--labels tests/fixtures/cues/labelled.jsonl] [--errors]
        [--who-payload /work/shared/data/feeds/who_don/who_api_diseaseoutbreaknews_page1.json]

Scoring is per item and category: an item is predicted to carry a category when ``find_cues``
returns at least one cue of it (title or text); gold is the item's ``gold`` list. For every split in
the file (``train``, ``test``, then the ``blind*`` batches in order) and for ``all``, the script prints
one JSON line per category and one micro-average line, each with precision, recall, F1, tp/fp/fn,
``support`` (gold positives) and ``n`` (items scored). Read tests/fixtures/cues/LABELLING.md
before quoting a figure: each ``blind*`` split was measured once before it was used for tuning
(those first figures are recorded there), so the figures printed now measure fit; a new, untouched
split is needed for an unbiased estimate.

A last line gives throughput (reports per wall-clock second and per CPU second) over the labelled
items, and over full-text WHO DONs with ``--who-payload`` (where it also prints how many DONs get any
cue: all of them are natural outbreaks, so that is a false-positive rate on long, laboratory-heavy
texts).
With ``--errors`` each false positive and false negative goes to stderr with its evidence.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from biotracker.normalise.cues import CATEGORIES, cue_categories, find_cues, lexicon_version  # noqa: E402

DEFAULT_LABELS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "cues" / "labelled.jsonl"


def load_items(path: Path) -> list[dict]:
    items = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            item = json.loads(line)
            unknown = set(item["gold"]) - set(CATEGORIES)
            if unknown:
                raise SystemExit(f"{path}:{number}: unknown gold categories {sorted(unknown)}")
            items.append(item)
    return items


def _prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "tp": tp, "fp": fp, "fn": fn}


def score(items: list[dict], predictions: dict[str, set[str]], split: str) -> list[dict]:
    chosen = [i for i in items if split == "all" or i.get("split") == split]
    lines, totals = [], [0, 0, 0]
    for category in CATEGORIES:
        tp = sum(1 for i in chosen if category in i["gold"] and category in predictions[i["id"]])
        fp = sum(1 for i in chosen if category not in i["gold"] and category in predictions[i["id"]])
        fn = sum(1 for i in chosen if category in i["gold"] and category not in predictions[i["id"]])
        totals = [totals[0] + tp, totals[1] + fp, totals[2] + fn]
        lines.append({"split": split, "category": category, **_prf(tp, fp, fn), "support": tp + fn,
                      "n": len(chosen)})
    lines.append({"split": split, "category": "micro_average", **_prf(*totals),
                  "support": totals[0] + totals[2], "n": len(chosen)})
    return lines


def who_texts(payload: Path) -> list[tuple[str, str]]:
    data = json.loads(payload.read_text(encoding="utf-8"))
    out = []
    for don in data.get("value", []):
        body = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", don.get(k) or ""))
                        for k in ("Summary", "Epidemiology", "Assessment", "Overview"))
        out.append((don.get("Title", ""), body))
    return out


def throughput(reports: list[tuple[str, str, str | None]], min_seconds: float = 1.0) -> tuple[float, float]:
    """(reports per wall-clock second, reports per CPU second); the second is stable on a busy machine."""
    find_cues("warm-up", "", None)  # compile outside the timing
    done, started, cpu_started = 0, time.perf_counter(), time.process_time()
    while True:
        for title, text, language in reports:
            find_cues(title, text, language)
        done += len(reports)
        elapsed = time.perf_counter() - started
        if elapsed >= min_seconds:
            return done / elapsed, done / max(time.process_time() - cpu_started, 1e-9)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, default=DEFAULT_LABELS)
    parser.add_argument("--who-payload", type=Path, default=None)
    parser.add_argument("--errors", action="store_true")
    args = parser.parse_args(argv)

    items = load_items(args.labels)
    predictions: dict[str, set[str]] = {}
    evidence: dict[str, list] = {}
    for item in items:
        cues = find_cues(item["title"], item["text"], item.get("language"))
        predictions[item["id"]] = set(cue_categories(cues))
        evidence[item["id"]] = cues
    present = {i.get("split", "") for i in items}
    ordered = [x for x in ("train", "test") if x in present] + sorted(present - {"train", "test"})
    for split in [*ordered, "all"]:
        for line in score(items, predictions, split):
            print(json.dumps(line))

    if args.errors:
        for item in items:
            gold, pred = set(item["gold"]), predictions[item["id"]]
            for category in sorted(pred - gold):
                hits = [f"{c.field}:{c.text!r}" for c in evidence[item["id"]] if c.category == category]
                print(f"FP [{item['split']}] {item['id']} {category}: {', '.join(hits)}", file=sys.stderr)
            for category in sorted(gold - pred):
                excerpt = (item["title"] + " | " + item["text"])[:160]
                print(f"FN [{item['split']}] {item['id']} {category}: {excerpt!r}", file=sys.stderr)

    labelled = [(i["title"], i["text"], i.get("language")) for i in items]
    wall, cpu = throughput(labelled)
    speed: dict = {"benchmark": "cues_throughput", "lexicon_version": lexicon_version(),
                   "labelled_reports_per_s": round(wall), "labelled_reports_per_cpu_s": round(cpu)}
    if args.who_payload:
        dons = who_texts(args.who_payload)
        flagged = [(t, sorted({c.category for c in find_cues(t, b, "en")})) for t, b in dons]
        speed["who_don_full_texts"] = len(dons)
        speed["who_don_mean_chars"] = round(sum(len(t) + len(b) for t, b in dons) / max(1, len(dons)))
        wall, cpu = throughput([(t, b, "en") for t, b in dons])
        speed["who_don_reports_per_s"], speed["who_don_reports_per_cpu_s"] = round(wall), round(cpu)
        speed["who_don_with_any_cue"] = sum(1 for _, cats in flagged if cats)
        speed["who_don_cues"] = [f"{t[:40]}: {cats}" for t, cats in flagged if cats]
    print(json.dumps(speed, ensure_ascii=False))


if __name__ == "__main__":
    main()
