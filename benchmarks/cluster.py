"""Time and peak memory of clustering a million reports into incidents (target: < 5 min, < 1 GB).

    python benchmarks/cluster.py [--reports 1000000] [--seed 7] [--store N]

The reports are resampled from real ones: every report the recorded feeds in tests/fixtures/feeds
normalise to (WHO DON, ProMED, ReliefWeb, EMPRES-i, the HPAI outbreak tables, ...) plus the CGHSS
WHO DON headlines (tests/fixtures/extraction/cghss_DONdatabase_dev.csv). Resampling keeps each real
title, body, agent and source and varies what makes a new event: the country (half keep their own,
half get another country seen in the corpus), a place name appended to the title, and the dates.
Reports come in events (1 + geometric(mean 3) reports, a few days apart, 2010-2025), and 4% are
relays of an earlier report of their event by another source (same URL, title with a publisher
suffix: exact duplicates) and 3% are lightly edited copies (near-duplicates).

Real reports are normalised in a child process, so the extractor's memory is not counted. Figures:
wall time of ``cluster_reports`` (exact and near duplicate detection, chaining, components,
explanations), of turning the result into ``Cluster`` objects with their reasons, and the process's
peak resident memory (``ru_maxrss``) after building the input and after clustering. The peak
includes the million input records themselves. With ``--store N`` it also times the stage
itself (``build_incidents``: read, cluster, replace, write) on a SQLite store of N of the reports.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import multiprocessing
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from biotracker.incidents.cluster import ClusterConfig, ReportRecord, cluster_reports  # noqa: E402

FEEDS = ROOT / "tests" / "fixtures" / "feeds"
CGHSS = ROOT / "tests" / "fixtures" / "extraction" / "cghss_DONdatabase_dev.csv"
UTC = dt.timezone.utc


def _real_reports() -> list[tuple]:
    """(source, title, text, url, agent, country) of every real report in the corpora (child process)."""
    import hashlib

    import yaml

    from biotracker.incidents.build import agent_key
    from biotracker.ingest.registry import connector_classes
    from biotracker.normalise.run import normalise_payload

    classes = connector_classes()
    out = []
    for cassette in sorted(FEEDS.glob("*/cassette.yaml")):
        source = cassette.parent.name
        if source not in classes:
            continue
        for interaction in yaml.safe_load(cassette.read_text(encoding="utf-8")).get("interactions") or []:
            body_file = interaction.get("body_file")
            if not body_file or not (cassette.parent / body_file).is_file():
                continue
            body = (cassette.parent / body_file).read_bytes()
            good, _, _ = normalise_payload(classes[source](), body, hashlib.sha256(body).hexdigest())
            for r in good:
                text = " ".join(t for t in (r.summary, r.text) if t)[:2000]
                out.append((r.source, r.title, text, r.url, agent_key(r.pathogen, r.disease, r.evidence),
                            r.country_iso3))
    with CGHSS.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            iso = row["ISO"] if row["ISO"] not in {"", "NA"} else None
            out.append(("who_don", row["Headline"], "", row["Link"], row["DiseaseLevel1"].casefold(), iso))
    return out


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def resample(base: list[tuple], n: int, seed: int) -> list[ReportRecord]:
    rng = np.random.default_rng(seed)
    countries = sorted({b[5] for b in base if b[5]})
    places = ["north", "south", "east", "west", "central", "coastal", "upper", "lower", "river", "highland"]
    sources = sorted({b[0] for b in base})
    start = dt.datetime(2010, 1, 1, tzinfo=UTC)
    records: list[ReportRecord] = []
    while len(records) < n:
        b = base[int(rng.integers(len(base)))]
        country = b[5] if rng.random() < 0.5 else countries[int(rng.integers(len(countries)))]
        day = start + dt.timedelta(days=float(rng.uniform(0, 16 * 365)))
        event: list[ReportRecord] = []
        for _ in range(1 + int(rng.geometric(1 / 3))):
            if len(records) + len(event) >= n:
                break
            i = len(records) + len(event)
            day += dt.timedelta(days=float(rng.exponential(4)))
            roll = rng.random()
            if event and roll < 0.04:  # relay: the same document from an aggregator
                o = event[int(rng.integers(len(event)))]
                event.append(ReportRecord(f"google_news:{i}", "google_news", day, o.title + " - Example News",
                                          "", o.url, None, None))
                continue
            if event and roll < 0.07:  # lightly edited copy by another outlet
                o = event[int(rng.integers(len(event)))]
                event.append(ReportRecord(f"gdelt_outbreaks:{i}", "gdelt_outbreaks", day,
                                          o.title.replace(" - ", " "), o.text, None, o.agent, None))
                continue
            src, title, text, url, agent, _ = base[int(rng.integers(len(base)))] if rng.random() < 0.3 else b
            source = src if rng.random() < 0.8 else sources[int(rng.integers(len(sources)))]
            place = places[int(rng.integers(len(places)))]
            event.append(ReportRecord(f"{source}:{i}", source, day, f"{title} ({place} {country})", text,
                                      f"{url}?bt={i}" if url else None, agent or b[4], country))
        records.extend(event)
    return records


def store_run(records: list[ReportRecord], n: int) -> dict:
    """Time ``build_incidents`` on a SQLite store holding the first ``n`` records: a full build, a
    second (idempotent) one, and a windowed one for the last week."""
    import tempfile

    from biotracker.config import load_settings
    from biotracker.db.engine import make_engine, migrate
    from biotracker.db.tables import reports
    from biotracker.db.upsert import upsert
    from biotracker.incidents.build import build_incidents
    from biotracker.schema import Window

    home = tempfile.mkdtemp(prefix="bt-cluster-bench-")
    engine = make_engine(load_settings({}, home=home, database_url=f"sqlite:///{home}/bt.db"))
    migrate(engine)
    rows = ({"report_id": r.report_id, "source": r.source, "source_id": r.report_id.split(":", 1)[1],
             "url": r.url, "title": r.title, "summary": "", "text": r.text, "published_at": r.at,
             "observed_at": r.at, "pathogen": r.agent, "disease": r.agent, "country_iso3": r.country_iso3,
             "language": "en", "tlp": "CLEAR", "evidence": {}} for r in records[:n])
    t0 = time.perf_counter()
    with engine.begin() as conn:
        upsert(conn, reports, rows)
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    first = build_incidents(engine)
    t_full = time.perf_counter() - t0
    t0 = time.perf_counter()
    build_incidents(engine)
    t_again = time.perf_counter() - t0
    last = max(r.at for r in records[:n])
    t0 = time.perf_counter()
    windowed = build_incidents(engine, Window(last - dt.timedelta(days=7), last + dt.timedelta(seconds=1)))
    t_window = time.perf_counter() - t0
    return {"reports": n, "incidents": first.incidents, "seconds": {
        "load_reports": round(t_load, 1), "build_full": round(t_full, 1), "build_again": round(t_again, 1),
        "build_last_week": round(t_window, 1)}, "last_week_scope_reports": windowed.reports}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--store", type=int, default=0, metavar="N",
                        help="also time build_incidents on a SQLite store with the first N reports")
    args = parser.parse_args()

    t0 = time.perf_counter()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        base = pool.submit(_real_reports).result()
    t_base = time.perf_counter() - t0
    sources = len({b[0] for b in base})
    print(f"real reports: {len(base):,} from {sources} sources ({t_base:.1f} s, child process)")

    t0 = time.perf_counter()
    records = resample(base, args.reports, args.seed)
    del base
    t_input = time.perf_counter() - t0
    rss_input = rss_mb()
    print(f"resampled: {len(records):,} reports ({t_input:.1f} s); "
          f"peak RSS with the input built: {rss_input:,.0f} MB")

    t0 = time.perf_counter()
    result = cluster_reports(records, ClusterConfig())
    t_cluster = time.perf_counter() - t0
    rss_cluster = rss_mb()
    print(f"cluster_reports: {t_cluster:.1f} s; peak RSS: {rss_cluster:,.0f} MB")

    t0 = time.perf_counter()
    sizes, corroborated = [], 0
    for c in result.clusters():
        sizes.append(len(c.report_ids))
        corroborated += c.corroboration >= 2
    t_explain = time.perf_counter() - t0
    rss_end = rss_mb()
    print(f"clusters() with reasons: {t_explain:.1f} s; peak RSS: {rss_end:,.0f} MB")

    sizes_a = np.asarray(sizes)
    figures = {
        "reports": len(records), "incidents": len(result), "corroborated_incidents": int(corroborated),
        "duplicates": result.stats.get("duplicates", 0),
        "links": {k: v for k, v in result.stats.items() if k.endswith(("_links", "_refused", "_cuts"))},
        "largest_incident": int(sizes_a.max()) if len(sizes_a) else 0,
        "median_incident_size": float(np.median(sizes_a)) if len(sizes_a) else 0.0,
        "seconds": {"cluster": round(t_cluster, 1), "clusters_with_reasons": round(t_explain, 1),
                    "total": round(t_cluster + t_explain, 1)},
        "peak_rss_mb": {"input_built": round(rss_input), "after_cluster": round(rss_cluster),
                        "after_reasons": round(rss_end)},
        "target": "< 300 s, < 1024 MB",
    }
    print(json.dumps(figures, indent=2))
    if args.store:
        del result
        print("store:", json.dumps(store_run(records, args.store), indent=2))


if __name__ == "__main__":
    main()
