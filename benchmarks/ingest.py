"""Ingest throughput: parse + normalise of RSS, JSON and CSV payloads scaled up from real fixtures.

For each format a payload of N items (default 100,000) is built by repeating the items of a real
recording with unique ids (ECDC RSS, ReliefWeb API JSON, FAO EMPRES-i CSV), then run through the
connector's ``records`` and the normalise stage's ``normalise_payload`` (``to_report`` + enrich +
validation), exactly as ``normalise_pending`` does. Each format runs in its own process so that its
peak memory (max RSS) is its own. Target: >= 1,000 items/s on one core.

    python benchmarks/ingest.py [--items 100000] [--formats rss json csv]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import re
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
FIXTURES = REPO / "tests" / "fixtures" / "feeds"


def build_rss(n: int) -> bytes:
    text = (FIXTURES / "ecdc" / "feed.xml").read_text(encoding="utf-8")
    head, rest = text.split("<item>", 1)
    items = ["<item>" + chunk.split("</item>")[0] + "</item>" for chunk in ("<item>" + rest).split("<item>")[1:]]
    tail = text[text.rindex("</item>") + len("</item>"):]
    out = []
    for i in range(n):
        item = items[i % len(items)]
        item = re.sub(r"<guid([^>]*)>([^<]*)</guid>", lambda m: f"<guid{m[1]}>{m[2]}#{i}</guid>", item)
        out.append(item)
    return (head + "\n".join(out) + tail).encode("utf-8")


def build_json(n: int) -> bytes:
    doc = json.loads((FIXTURES / "reliefweb" / "disasters-page1.json").read_text(encoding="utf-8"))
    items = doc["data"]
    doc["data"] = [dict(items[i % len(items)], id=str(10_000_000 + i)) for i in range(n)]
    doc.pop("links", None)
    return json.dumps(doc).encode("utf-8")


def build_csv(n: int) -> bytes:
    lines = (FIXTURES / "empres_i" / "empres-i-outbreaks.csv").read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], lines[1:]
    out = [header]
    for i in range(n):
        row = rows[i % len(rows)]
        out.append(f"{10_000_000 + i}{row[row.index(','):]}")
    return ("\n".join(out) + "\n").encode("utf-8")


CASES = {"rss": ("ecdc", build_rss), "json": ("reliefweb", build_json), "csv": ("empres_i", build_csv)}


def run_case(fmt: str, n: int, queue: mp.Queue) -> None:
    from biotracker.ingest.registry import get_connector
    from biotracker.normalise.run import normalise_payload

    source, build = CASES[fmt]
    body = build(n)
    connector = get_connector(source)
    normalise_payload(connector, build(50), "0" * 64)  # warm caches (vocabularies, geo tables)
    parse_cpu = time.process_time()
    records = sum(1 for _ in connector.records(body))
    parse_cpu = time.process_time() - parse_cpu
    started = time.perf_counter()
    cpu = time.process_time()
    reports, quarantined, skipped = normalise_payload(connector, body, "1" * 64)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put({"format": fmt, "source": source, "items": n, "payload_mb": len(body) / 1e6, "reports": len(reports),
               "skipped": skipped, "quarantined": len(quarantined), "seconds": elapsed, "cpu_seconds": cpu,
               "items_per_s": n / elapsed, "peak_rss_mb": peak_mb, "records": records,
               "parse_items_per_s": records / parse_cpu, "cpu_items_per_s": n / cpu})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--formats", nargs="+", default=list(CASES), choices=list(CASES))
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    print(f"{'format':6} {'source':10} {'items':>8} {'payload MB':>10} {'reports':>8} {'skipped':>8} "
          f"{'quar.':>6} {'wall s':>7} {'cpu s':>7} {'parse/s':>9} {'items/s':>9} {'peak RSS MB':>11}")
    for fmt in args.formats:
        queue: mp.Queue = ctx.Queue()
        process = ctx.Process(target=run_case, args=(fmt, args.items, queue))
        process.start()
        result = queue.get()
        process.join()
        print(f"{fmt:6} {result['source']:10} {result['items']:>8,} {result['payload_mb']:>10.1f} "
              f"{result['reports']:>8,} {result['skipped']:>8,} {result['quarantined']:>6,} {result['seconds']:>7.1f} "
              f"{result['cpu_seconds']:>7.1f} {result['parse_items_per_s']:>9,.0f} {result['cpu_items_per_s']:>9,.0f} "
              f"{result['peak_rss_mb']:>11,.0f}")
    print("Rates are per CPU second of the single process (one core), so other load on the machine does not distort them.")
    print("parse/s: connector.records only; items/s: parse + normalise (records, to_report, enrich, validation) - the")
    print("figure the target applies to: >= 1,000 items/s on one core.")


if __name__ == "__main__":
    main()
