"""Early warning measured against WHO Disease Outbreak News (the GHSI EAR method, Barboza et al. 2013/2014).

    python benchmarks/early_warning.py --stream FILE --gold FILE --start D --end D [--misses 20]
        [--alerts alerts.jsonl]

Runs ``biotracker backtest`` over the stream (from its first date to ``--end``; with ``--alerts``
reads a finished run instead) and prints one JSON line:

- ``events``: gold events, i.e. the first DON for a disease x country after at least 365 days
  without one (in the gold file), dated in [start, end];
- ``detection`` / ``detection_high``: share of events with an alert on the same disease and country
  raised 1-30 days before the DON date (``_high``: alerts that had reached high or critical by then);
- ``lead_median`` / ``lead_mean``: days from the earliest such alert to the DON, detected events;
- ``ppv`` / ``ppv_high``: share of alerts raised in the window (``_high``: that reached high or
  critical in the window) with a DON on the same disease and country within 30 days either side;
- ``alerts_per_week``: alerts raised in the window per week, by the highest tier they reached;
- ``baseline``: the same figures for the naive rule "alert whenever a (disease, country) appears
  for the first time in 365 days" over the same run's normalised reports.

Diseases are matched through ``benchmarks/data/who_don_disease_crosswalk.csv`` (gold labels to
vocabulary concepts); an alert's disease is rolled up through the vocabulary's parents to the first
concept the crosswalk targets. Nothing is matched through the gold file itself.
With ``--misses N`` the N commonest missed events and false alarms go to stderr with the reason.
"""

from __future__ import annotations

import argparse
import collections
import csv
import datetime as dt
import json
import re
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from biotracker.normalise.extract import extract  # noqa: E402
from biotracker.normalise.vocab import load_vocabulary  # noqa: E402

CROSSWALK = Path(__file__).with_name("data") / "who_don_disease_crosswalk.csv"
NOVELTY_DAYS = 365
LEAD_MIN, LEAD_MAX = 1, 30
PPV_DAYS = 30
HIGH = ("critical", "high")
TIER_ORDER = ("critical", "high", "medium", "low")


# -- disease matching -----------------------------------------------------------------------------


def clean_label(label: str) -> str:
    text = re.sub(r"\s+", " ", label or "").strip().casefold()
    return re.sub(r",\s*unspecified$", "", text).strip()


def load_crosswalk(path: Path = CROSSWALK) -> dict[str, str]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = csv.DictReader(line for line in fh if not line.startswith("#"))
        return {clean_label(r["label"]): r["concept"] for r in rows}


class DiseaseMatcher:
    """Gold labels and alert disease names onto one set of concepts (the crosswalk's targets)."""

    def __init__(self, crosswalk: dict[str, str]) -> None:
        self.crosswalk = crosswalk
        self.targets = set(crosswalk.values())
        vocab = load_vocabulary()
        self._by_name = {c.name.casefold(): c.key for c in vocab.concepts.values()}
        self._by_name.update({k: k for k in vocab.concepts})
        self.via_extractor: set[str] = set()

    def roll_up(self, key: str) -> str:
        vocab = load_vocabulary()
        if key not in vocab.concepts:
            return key
        for k in [key, *vocab.ancestors(key)]:
            if k in self.targets:
                return k
        return key

    def alert_concept(self, disease: str | None) -> str | None:
        """The concept of an alert's (or report's) disease name, at the crosswalk's level."""
        if not disease:
            return None
        key = self._by_name.get(disease.casefold())
        return self.roll_up(key) if key else None

    def gold_concept(self, *labels: str) -> str | None:
        """First label found in the crosswalk; else the extractor's reading of the first label."""
        for label in labels:
            if clean_label(label) in self.crosswalk:
                return self.crosswalk[clean_label(label)]
        first = next((l for l in labels if clean_label(l)), "")
        if not first:
            return None
        self.via_extractor.add(clean_label(first))
        found = extract(first).diseases
        return self.roll_up(found[0].key) if found else None


# -- gold -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Don:
    don_id: str
    day: dt.date
    concept: str
    iso3: str
    label: str


@dataclass(frozen=True)
class GoldEvent:
    don: Don

    @property
    def key(self) -> tuple[str, str]:
        return self.don.concept, self.don.iso3


def read_gold(path: Path, matcher: DiseaseMatcher) -> tuple[list[Don], list[str]]:
    """DON rows with a concept and a country; unmatched labels are returned, not dropped silently."""
    dons, unmatched = [], []
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            concept = matcher.gold_concept(row.get("Disease") or "", row.get("icd104n") or "")
            iso3 = (row.get("iso3") or "").strip().upper()
            if concept is None or not re.fullmatch(r"[A-Z]{3}", iso3):
                unmatched.append(f"{row.get('DON_ID')}: {row.get('Disease')!r} / {iso3!r}")
                continue
            dons.append(
                Don(row["DON_ID"], dt.date.fromisoformat(row["Date"][:10]), concept, iso3, row.get("Disease", ""))
            )
    return sorted(dons, key=lambda d: (d.day, d.don_id, d.iso3)), unmatched


def gold_events(dons: Sequence[Don], start: dt.date, end: dt.date) -> list[GoldEvent]:
    """First DON per (concept, country) after >= 365 days without one, dated in [start, end].

    The 365 days look back over the whole gold file, so an event early in the window is judged on
    DONs before the window too.
    """
    last: dict[tuple[str, str], dt.date] = {}
    out = []
    for don in sorted(dons, key=lambda d: (d.day, d.don_id)):
        key = (don.concept, don.iso3)
        previous = last.get(key)
        if (previous is None or (don.day - previous).days >= NOVELTY_DAYS) and start <= don.day <= end:
            out.append(GoldEvent(don))
        last[key] = don.day
    return _first_per_key_day(out)


def _first_per_key_day(events: list[GoldEvent]) -> list[GoldEvent]:
    seen: set[tuple[str, str, dt.date]] = set()
    out = []
    for e in events:
        marker = (*e.key, e.don.day)
        if marker not in seen:
            seen.add(marker)
            out.append(e)
    return out


# -- alerts ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoredAlert:
    """An alert as the metrics see it: when it was raised and when (if ever) it reached high+."""

    alert_id: str
    concept: str | None
    iso3: str | None
    raised: dt.date
    high_since: dt.date | None
    top_tier: str
    disease: str | None = None


def collapse_events(rows: Iterable[dict], matcher: DiseaseMatcher) -> list[ScoredAlert]:
    """alerts.jsonl rows (raised / escalated) to one record per alert."""
    by_id: dict[str, dict] = {}
    for row in rows:
        day = dt.date.fromisoformat(row["day"])
        entry = by_id.setdefault(
            row["alert_id"],
            {"raised": day, "high": None, "top": row["tier"], "disease": row.get("disease"), "iso3": row.get("country_iso3")},
        )
        entry["raised"] = min(entry["raised"], day)
        if row["tier"] in HIGH and (entry["high"] is None or day < entry["high"]):
            entry["high"] = day
        if TIER_ORDER.index(row["tier"]) < TIER_ORDER.index(entry["top"]):
            entry["top"] = row["tier"]
    return [
        ScoredAlert(
            alert_id=aid,
            concept=matcher.alert_concept(e["disease"]),
            iso3=e["iso3"],
            raised=e["raised"],
            high_since=e["high"],
            top_tier=e["top"],
            disease=e["disease"],
        )
        for aid, e in sorted(by_id.items())
    ]


def naive_alerts(sightings: Iterable[tuple[dt.date, str, str]], matcher: DiseaseMatcher) -> list[ScoredAlert]:
    """The naive baseline: an alert whenever a (disease, country) appears for the first time in 365
    days of the stream. Its alerts have no tier; they count as high for the ``_high`` figures."""
    last: dict[tuple[str, str], dt.date] = {}
    out = []
    for day, disease, iso3 in sorted(sightings):
        key = (disease, iso3)
        previous = last.get(key)
        if previous is None or (day - previous).days >= NOVELTY_DAYS:
            out.append(
                ScoredAlert(
                    alert_id=f"naive-{disease}-{iso3}-{day}",
                    concept=matcher.alert_concept(disease),
                    iso3=iso3,
                    raised=day,
                    high_since=day,
                    top_tier="high",
                    disease=disease,
                )
            )
        last[key] = day
    return out


# -- metrics --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Detection:
    event: GoldEvent
    lead: int | None  # days from the earliest matching alert to the DON; None if missed
    lead_high: int | None


def _lead(event: GoldEvent, days: Iterable[dt.date]) -> int | None:
    leads = [(event.don.day - d).days for d in days]
    leads = [x for x in leads if LEAD_MIN <= x <= LEAD_MAX]
    return max(leads) if leads else None


def detect_events(events: Sequence[GoldEvent], alerts: Sequence[ScoredAlert]) -> list[Detection]:
    index: dict[tuple[str | None, str | None], list[ScoredAlert]] = collections.defaultdict(list)
    for a in alerts:
        index[(a.concept, a.iso3)].append(a)
    out = []
    for e in events:
        matching = index.get(e.key, [])
        out.append(
            Detection(
                e,
                _lead(e, (a.raised for a in matching)),
                _lead(e, (a.high_since for a in matching if a.high_since is not None)),
            )
        )
    return out


def true_alert(alert: ScoredAlert, day: dt.date, dons: dict[tuple[str, str], list[dt.date]]) -> bool:
    """A DON on the same disease and country within 30 days either side of ``day``."""
    return any(abs((d - day).days) <= PPV_DAYS for d in dons.get((alert.concept or "", alert.iso3 or ""), []))


def _don_index(dons: Sequence[Don]) -> dict[tuple[str, str], list[dt.date]]:
    index: dict[tuple[str, str], list[dt.date]] = collections.defaultdict(list)
    for d in dons:
        index[(d.concept, d.iso3)].append(d.day)
    return index


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def score(
    events: Sequence[GoldEvent], dons: Sequence[Don], alerts: Sequence[ScoredAlert], start: dt.date, end: dt.date
) -> dict[str, object]:
    detections = detect_events(events, alerts)
    leads = [d.lead for d in detections if d.lead is not None]
    index = _don_index(dons)
    raised = [a for a in alerts if start <= a.raised <= end]
    high = [a for a in alerts if a.high_since is not None and start <= a.high_since <= end]
    weeks = ((end - start).days + 1) / 7
    per_tier = collections.Counter(a.top_tier for a in raised)
    return {
        "events": len(events),
        "detected": len(leads),
        "detection": _ratio(len(leads), len(events)),
        "detected_high": sum(d.lead_high is not None for d in detections),
        "detection_high": _ratio(sum(d.lead_high is not None for d in detections), len(events)),
        "lead_median": statistics.median(leads) if leads else None,
        "lead_mean": round(statistics.fmean(leads), 2) if leads else None,
        "alerts": len(raised),
        "ppv": _ratio(sum(true_alert(a, a.raised, index) for a in raised), len(raised)),
        "alerts_high": len(high),
        "ppv_high": _ratio(sum(true_alert(a, a.high_since, index) for a in high), len(high)),  # type: ignore[arg-type]
        "alerts_per_week": {t: round(per_tier.get(t, 0) / weeks, 2) for t in TIER_ORDER},
        "high_per_week": round(len(high) / weeks, 2),
    }


# -- the run --------------------------------------------------------------------------------------


def _explain_miss(d: Detection, alerts: Sequence[ScoredAlert], sightings: Sequence[tuple[dt.date, str, str]],
                  matcher: DiseaseMatcher) -> str:
    e = d.event
    same = [a for a in alerts if (a.concept, a.iso3) == e.key]
    if same:
        days = sorted((e.don.day - a.raised).days for a in same)
        return f"alerts on this disease and country, but not 1-30 days before (leads {days[:5]})"
    seen = [s for s in sightings if (matcher.alert_concept(s[1]), s[2]) == e.key and s[0] < e.don.day]
    if seen:
        return f"{len(seen)} earlier report(s) (first {seen[0][0]}), no alert raised"
    concept_only = [s for s in sightings if matcher.alert_concept(s[1]) == e.don.concept and s[0] < e.don.day]
    if concept_only:
        return "the disease appears in the stream but never with this country"
    return "nothing in the stream names this disease before the DON"


def report_errors(detections: Sequence[Detection], alerts: Sequence[ScoredAlert], dons: Sequence[Don],
                  sightings: Sequence[tuple[dt.date, str, str]], matcher: DiseaseMatcher,
                  start: dt.date, end: dt.date, n: int) -> None:
    """The commonest misses (by disease, with why) and high+critical false alarms (by disease)."""
    misses = [d for d in detections if d.lead is None]
    why = {id(d): _explain_miss(d, alerts, sightings, matcher) for d in misses}
    reasons = collections.Counter(why[id(d)].split(" (")[0] for d in misses)
    print(f"# missed events: {len(misses)} of {len(detections)}; by reason: {dict(reasons.most_common())}",
          file=sys.stderr)
    by_disease: dict[str, list[Detection]] = collections.defaultdict(list)
    for d in misses:
        by_disease[d.event.don.concept].append(d)
    print(f"# {n} commonest missed diseases", file=sys.stderr)
    for concept, group in sorted(by_disease.items(), key=lambda kv: -len(kv[1]))[:n]:
        kinds = collections.Counter(why[id(d)].split(" (")[0] for d in group)
        where = ", ".join(sorted({d.event.don.iso3 for d in group})[:12])
        print(f"MISS {len(group):3d} x {concept} ({where}): {dict(kinds.most_common())}", file=sys.stderr)
    print(f"# first {n} missed events", file=sys.stderr)
    for d in misses[:n]:
        print(f"MISS {d.event.don.day} {d.event.don.concept} {d.event.don.iso3} ({d.event.don.don_id}): "
              f"{why[id(d)]}", file=sys.stderr)
    index = _don_index(dons)
    false = [a for a in alerts if a.high_since and start <= a.high_since <= end and not true_alert(a, a.high_since, index)]
    groups: dict[str, list[ScoredAlert]] = collections.defaultdict(list)
    for a in false:
        groups[a.concept or a.disease or "?"].append(a)
    print(f"# high+critical false alarms: {len(false)}; {n} commonest diseases:", file=sys.stderr)
    for concept, group in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:n]:
        has_don = any(k[0] == concept for k in index)
        reason = ("WHO published no DON on this disease in the gold file" if not has_don
                  else "DONs on this disease, none for these countries within 30 days")
        where = ", ".join(sorted({a.iso3 or "?" for a in group})[:12])
        print(f"FALSE {len(group):3d} x {concept} ({where}): {reason}", file=sys.stderr)


def _run_backtest(stream: Path, end: dt.date) -> tuple[list[dict], list[tuple[dt.date, str, str]], float]:
    from biotracker.backtest import read_stream, run_backtest

    items, bad = read_stream(stream)
    for row in bad:
        print(f"{stream}: {row}", file=sys.stderr)
    began = time.perf_counter()
    result = run_backtest(items, None, end)
    seconds = time.perf_counter() - began
    rows = [json.loads(e.to_json()) for e in result.events]
    return rows, [(s.day, s.disease, s.country_iso3) for s in result.sightings], seconds


def _read_alerts(stream: Path, alerts: Path, end: dt.date) -> tuple[list[dict], list[tuple[dt.date, str, str]]]:
    """A finished ``biotracker backtest`` output, and the sightings the same normalisation gives."""
    from biotracker.backtest import read_stream, to_reports

    items, _bad = read_stream(stream)
    sightings = [
        (r.published_at.date(), r.disease, r.country_iso3)
        for i in items
        if i.day <= end
        for r in to_reports(i)
        if r.disease and r.country_iso3 and r.published_at
    ]
    rows = [json.loads(line) for line in alerts.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if dt.date.fromisoformat(r["day"]) <= end], sightings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stream", type=Path, required=True)
    parser.add_argument("--gold", type=Path, required=True)
    parser.add_argument("--start", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--end", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--alerts", type=Path, help="score this finished backtest output instead of running one")
    parser.add_argument("--misses", type=int, default=0, help="print the N commonest misses and false alarms")
    args = parser.parse_args(argv)

    matcher = DiseaseMatcher(load_crosswalk())
    dons, unmatched = read_gold(args.gold, matcher)
    events = gold_events(dons, args.start, args.end)
    if args.alerts:
        (rows, sightings), seconds = _read_alerts(args.stream, args.alerts, args.end), 0.0
    else:
        rows, sightings, seconds = _run_backtest(args.stream, args.end)
    alerts = collapse_events(rows, matcher)
    figures = score(events, dons, alerts, args.start, args.end)
    baseline = score(events, dons, naive_alerts(sightings, matcher), args.start, args.end)
    for key in ("alerts_per_week", "detected_high", "detection_high", "alerts_high", "ppv_high", "high_per_week"):
        baseline.pop(key)
    out = figures | {
        "baseline": baseline,
        "backtest_seconds": round(seconds, 1),
        "gold_rows_unmatched": len(unmatched),
        "labels_via_extractor": sorted(matcher.via_extractor),
    }
    print(json.dumps(out))
    if args.misses:
        report_errors(detect_events(events, alerts), alerts, dons, sightings, matcher, args.start, args.end, args.misses)


if __name__ == "__main__":
    main()
