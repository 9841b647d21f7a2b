"""Extraction speed and memory over 100,000 reports built from the real corpora.

    python benchmarks/extract.py [--n 100000] [--shared /work/shared/data]

The report pool is every real item we hold: WHO DON headlines from the CGHSS database (title
only, as headline feeds deliver them), the 50 full-text WHO DON API items (title + HTML
fields as plain text), ProMED post titles and ReliefWeb disaster names (when ``--shared`` is
given and present). The pool is cycled to ``--n`` reports, so the mix of short and long
reports is the pool's own. Runs on one core (no multiprocessing) and prints one JSON line:
reports/s, characters/s, peak resident memory, the one-off vocabulary build time, and the
rate on full-text reports alone (the worst case).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import resource
import sys
import time
from itertools import cycle, islice
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from biotracker.normalise.extract import extract, warm_up  # noqa: E402
from extraction_cghss import who_report  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "extraction"

Report = tuple[str, str, "dt.date | None"]


def build_pool(shared: Path | None) -> tuple[list[Report], list[Report]]:
    """(all real reports, the full-text ones)."""
    pool: list[Report] = []
    seen: set[str] = set()
    with (FIXTURES / "cghss_DONdatabase_dev.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["DONid"] not in seen:
                seen.add(row["DONid"])
                pool.append((row["Headline"], "", None))
    items = json.loads((FIXTURES / "who_api_diseaseoutbreaknews_page1.json").read_text(encoding="utf-8"))["value"]
    full = [who_report(i) for i in items]
    pool += full
    if shared and shared.exists():
        for path in sorted((shared / "feeds" / "promed").glob("*.csv")):
            with path.open(encoding="utf-8", newline="") as fh:
                pool += [(r["caption"], "", dt.date.fromisoformat(r["date"])) for r in csv.DictReader(fh)]
        rw = shared / "feeds" / "reliefweb" / "v1-disasters-appname-vocabulary-preset-external-limit-1000.json"
        if rw.exists():
            pool += [(d["fields"]["name"], "", None) for d in json.loads(rw.read_text(encoding="utf-8"))["data"]]
    return pool, full


def run(reports: list[Report]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process): on a shared machine the CPU figure is the
    one-core capacity, the wall figure what this run happened to get."""
    start, cpu = time.perf_counter(), time.process_time()
    for title, text, published in reports:
        extract(title, text, published)
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--shared", type=Path, default=Path("/work/shared/data"))
    args = ap.parse_args()
    pool, full = build_pool(args.shared)
    reports = list(islice(cycle(pool), args.n))
    t0 = time.perf_counter()
    warm_up()
    build_s = time.perf_counter() - t0
    seconds, cpu_seconds = run(reports)
    chars = sum(len(t) + len(x) for t, x, _ in reports)
    full_reports = list(islice(cycle(full), 2_000))
    full_seconds, full_cpu = run(full_reports)
    print(json.dumps({
        "benchmark": "extract_speed",
        "reports": len(reports),
        "pool_distinct_reports": len(pool),
        "pool_full_text_reports": len(full),
        "mean_chars_per_report": round(chars / len(reports), 1),
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "reports_per_s": round(len(reports) / seconds, 1),
        "reports_per_cpu_s": round(len(reports) / cpu_seconds, 1),
        "chars_per_s": round(chars / seconds),
        "full_text_reports_per_s": round(len(full_reports) / full_seconds, 1),
        "full_text_reports_per_cpu_s": round(len(full_reports) / full_cpu, 1),
        "full_text_mean_chars": round(sum(len(t) + len(x) for t, x, _ in full) / len(full)),
        "vocabulary_build_s": round(build_s, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }))


if __name__ == "__main__":
    main()
