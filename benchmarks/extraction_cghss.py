"""Accuracy of the extractor against the CGHSS hand-coded WHO DON database (Carlson et al.).

    python benchmarks/extraction_cghss.py --labels FILE [--errors 20]
        [--who-payload who_api.json --who-counts tests/fixtures/extraction/who_don_counts.csv]

Reads a file in the format of ``cghss_DONdatabase_dev.csv`` (one row per DON and country),
runs ``extract`` on each DON's ``Headline`` (with ``ReportDate`` as publication date) and
prints one JSON line: micro-averaged precision, recall and F1 for the countries the extractor
asserts (gold: the set of ``ISO`` per ``DONid``), recall over the gold countries the headline
names (``country_named_recall``; "named" is judged by a whole-word search for any of the
country's vocabulary or ISO names, independent of the extractor), the same scores with inferred
places added (``country_with_inferred``) and diseases (gold: ``DiseaseLevel1`` mapped through
``biotracker/normalise/vocab/cghss_crosswalk.csv``), plus ``n`` (DONs scored).

Disease scoring is done at the crosswalk's level: each extracted concept is rolled up through
its parents (H5N1 -> avian influenza -> influenza A) to the first concept the crosswalk
targets. A gold label missing from the crosswalk is resolved by running the extractor on the
label itself; the count of such labels is printed as ``labels_via_extractor``.

With ``--who-payload`` and ``--who-counts`` a second JSON line scores case and death counts on
full-text WHO DON API items against hand labels (exact-match accuracy and within-10% rate).
With ``--errors N`` the N commonest error patterns go to stderr.
"""

from __future__ import annotations

import argparse
import collections
import csv
import datetime as dt
import functools
import html
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from biotracker.normalise.extract import extract  # noqa: E402
from biotracker.normalise.vocab import VOCAB_DIR, load_vocabulary  # noqa: E402

#: Codes the database uses that are not ISO 3166-1 alpha-3 (Kosovo); mapped to the project's.
GOLD_CODE_CROSSWALK = {"XKO": "XKX"}


def load_crosswalk() -> dict[str, str]:
    with (VOCAB_DIR / "cghss_crosswalk.csv").open(encoding="utf-8") as fh:
        return {r["label"]: r["concept"] for r in csv.DictReader(l for l in fh if not l.startswith("#"))}


def roll_up(key: str, targets: set[str]) -> str:
    vocab = load_vocabulary()
    for k in [key, *vocab.ancestors(key)]:
        if k in targets:
            return k
    return key


def gold_concepts(label: str, crosswalk: dict[str, str], fallback_used: set[str]) -> set[str]:
    if not label or label == "NA":
        return set()
    if label in crosswalk:
        return {crosswalk[label]}
    fallback_used.add(label)
    text = re.sub(r"^(Syndromic|Toxicity):\s*(.+)$", lambda m: f"acute {m.group(2)} syndrome"
                  if m.group(1) == "Syndromic" else m.group(2), label)
    targets = set(crosswalk.values())
    return {roll_up(d.key, targets) for d in extract(text).diseases}


@functools.cache
def _country_names() -> dict[str, list[re.Pattern[str]]]:
    """Every name the vocabulary and pycountry give each country, as whole-word patterns over
    folded text: an extractor-independent test of whether a headline names a country."""
    from biotracker.normalise.folding import fold
    from biotracker.normalise.geo import place_entries

    names: dict[str, set[str]] = collections.defaultdict(set)
    for e in place_entries():
        if e.category == "country" and len(e.term) >= 4:
            names[e.ref].add(fold(e.term).strip())
    return {
        iso: [re.compile(r"(?<![a-z])" + re.escape(n) + r"(?![a-z])") for n in sorted(ns)]
        for iso, ns in names.items()
    }


def names_country(headline: str, iso3: str) -> bool:
    from biotracker.normalise.folding import fold

    text = fold(headline)
    return any(p.search(text) for p in _country_names().get(iso3, []))


def _prf(tp: int, fp: int, fn: int) -> dict[str, float | int]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "tp": tp, "fp": fp, "fn": fn}


def _published(value: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(value, "%m/%d/%Y").date()
    except (TypeError, ValueError):
        return None


def score_cghss(labels: Path, n_errors: int) -> dict:
    crosswalk = load_crosswalk()
    targets = set(crosswalk.values())
    dons: dict[str, dict] = {}
    with labels.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            don = dons.setdefault(row["DONid"], {"headline": row["Headline"], "date": row["ReportDate"],
                                                 "iso": set(), "labels": set()})
            iso = (row.get("ISO") or "").strip()
            if iso and iso != "NA":
                don["iso"].add(GOLD_CODE_CROSSWALK.get(iso, iso))
            don["labels"].add((row.get("DiseaseLevel1") or "").strip())
    fallback_used: set[str] = set()
    c = collections.Counter()
    errors: collections.Counter[str] = collections.Counter()
    for don_id, don in dons.items():
        ex = extract(don["headline"], "", _published(don["date"]))
        pred_c = set(ex.countries)  # named countries: what the extractor asserts
        with_inferred = pred_c | set(ex.inferred_countries)
        gold_c = don["iso"]
        named_gold = {iso for iso in gold_c if names_country(don["headline"], iso)}
        c["c_tp"] += len(pred_c & gold_c)
        c["c_fp"] += len(pred_c - gold_c)
        c["c_fn"] += len(gold_c - pred_c)
        c["n_tp"] += len(pred_c & named_gold)
        c["n_fn"] += len(named_gold - pred_c)
        c["i_tp"] += len(with_inferred & gold_c)
        c["i_fp"] += len(with_inferred - gold_c)
        c["i_fn"] += len(gold_c - with_inferred)
        c["c_fn_unnamed"] += len(gold_c - named_gold - pred_c)
        for iso in pred_c - gold_c:
            errors[f"country FP {iso}"] += 1
        for iso in named_gold - pred_c:
            errors[f"country FN named {iso}"] += 1
        gold_d: set[str] = set()
        for label in don["labels"]:
            gold_d |= gold_concepts(label, crosswalk, fallback_used)
        pred_d = {roll_up(d.key, targets) for d in ex.diseases}
        c["d_tp"] += len(pred_d & gold_d)
        c["d_fp"] += len(pred_d - gold_d)
        c["d_fn"] += len(gold_d - pred_d)
        for k in pred_d - gold_d:
            errors[f"disease FP {k} (gold {sorted(gold_d) or '-'})"] += 1
        for k in gold_d - pred_d:
            errors[f"disease FN {k} (predicted {sorted(pred_d) or '-'})"] += 1
        if n_errors and (pred_c - gold_c or named_gold - pred_c or pred_d != gold_d):
            print(f"  {don_id}: {don['headline']!r} countries {sorted(pred_c)} vs {sorted(gold_c)}; "
                  f"diseases {sorted(pred_d)} vs {sorted(gold_d)}", file=sys.stderr)
    if n_errors:
        print(f"--- {n_errors} commonest error patterns ---", file=sys.stderr)
        for pattern, count in errors.most_common(n_errors):
            print(f"{count:5d}  {pattern}", file=sys.stderr)
    return {
        "benchmark": "extraction_cghss",
        "labels": str(labels),
        "n": len(dons),
        # countries the extractor asserts (named in the headline) against every gold country
        "country": _prf(c["c_tp"], c["c_fp"], c["c_fn"]),
        # recall over the gold countries the headline names (by any vocabulary or ISO name)
        "country_named_recall": round(c["n_tp"] / (c["n_tp"] + c["n_fn"]), 4) if c["n_tp"] + c["n_fn"] else 0.0,
        # gold countries the headline does not name at all (no extractor can find them in the headline)
        "country_fn_not_named_in_headline": c["c_fn_unnamed"],
        # asserted plus inferred countries (inferred_places.csv), as an analyst would see both
        "country_with_inferred": _prf(c["i_tp"], c["i_fp"], c["i_fn"]),
        "disease": _prf(c["d_tp"], c["d_fp"], c["d_fn"]),
        "labels_via_extractor": sorted(fallback_used),
    }


def strip_html(value: str | None) -> str:
    """Plain text of a WHO API HTML field: tags dropped, entities decoded, blocks on new lines."""
    if not value:
        return ""
    value = re.sub(r"(?i)<\s*(br|/p|/li|/h\d|/tr|/div)\s*/?>", "\n", value)
    value = re.sub(r"<[^>]+>", " ", value)
    value = html.unescape(value)
    return re.sub(r"[ \t\u00a0]+", " ", value).strip()


def who_report(item: dict) -> tuple[str, str, dt.date | None]:
    """(title, text, published) for one WHO DON API item, the way the connector presents it."""
    text = "\n\n".join(strip_html(item.get(k)) for k in ("Summary", "Overview", "Epidemiology", "Assessment")
                       if item.get(k))
    published = (item.get("PublicationDate") or "")[:10]
    return item.get("Title") or "", text, dt.date.fromisoformat(published) if published else None


def score_who_counts(payload: Path, labels: Path) -> dict:
    items = {i["DonId"]: i for i in json.loads(payload.read_text(encoding="utf-8"))["value"]}
    c = collections.Counter()
    with labels.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(l for l in fh if not l.startswith("#")))
    for row in rows:
        title, text, published = who_report(items[row["don_id"]])
        ex = extract(title, text, published)
        for name, got in (("cases", ex.cases.value if ex.cases else None),
                          ("deaths", ex.deaths.value if ex.deaths else None)):
            want = int(row[name]) if row[name].strip() else None
            c[f"{name}_n"] += 1
            c[f"{name}_exact"] += got == want
            if want is None or got is None:
                c[f"{name}_within10"] += got == want
            else:
                c[f"{name}_within10"] += abs(got - want) <= 0.1 * max(want, 1)
            if got != want:
                print(f"  {row['don_id']} {name}: got {got}, labelled {want}", file=sys.stderr)
    return {
        "benchmark": "extraction_who_counts",
        "n": len(rows),
        "cases_exact": round(c["cases_exact"] / c["cases_n"], 4),
        "cases_within_10pct": round(c["cases_within10"] / c["cases_n"], 4),
        "deaths_exact": round(c["deaths_exact"] / c["deaths_n"], 4),
        "deaths_within_10pct": round(c["deaths_within10"] / c["deaths_n"], 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--labels", type=Path, required=True, help="CGHSS DON database CSV (dev or held-out part)")
    ap.add_argument("--errors", type=int, default=0, help="print the N commonest error patterns to stderr")
    ap.add_argument("--who-payload", type=Path, help="WHO DON API page (JSON) for the counts benchmark")
    ap.add_argument("--who-counts", type=Path, help="hand labels of cases/deaths for --who-payload")
    args = ap.parse_args()
    print(json.dumps(score_cghss(args.labels, args.errors)))
    if args.who_payload and args.who_counts:
        print(json.dumps(score_who_counts(args.who_payload, args.who_counts)))


if __name__ == "__main__":
    main()
