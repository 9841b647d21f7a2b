"""Time one daily cycle of ~2,000 new reports on a store of N reports, stage by stage, with peak memory.

    python benchmarks/daily_cycle.py --history N [--backend sqlite|postgresql] [--daily 2000] [--json]

The store is N reports resampled from the real recordings: every report the demo normalises from the
bundled feeds (WHO DON, ProMED, EMPRES-i, the HPAI tables, the police drop folder, ...) with its
title, text, extraction evidence, source and marking kept, and what makes a new event varied: the
publication date (uniform over five years), the event date (0-6 days earlier), the country (half
keep their own, half get another country seen in the corpus: many disease x country series) and an
item number in the title (so copies are not exact duplicates of each other). The store is built
once, every derived table computed in full (``refresh_derived(full=True)``, what ``biotracker
rebuild`` runs, on SQLite), and cached under ``var/bench/`` so a rerun reuses it; with
``--backend postgresql`` every table of that store is copied into a throwaway PostgreSQL cluster
(``tests/pg_cluster.py``) before the cycle.

One cycle then adds a day of ``--daily`` new reports (published the day after the history ends;
5% about events up to eight weeks earlier) and runs the chain on what they change, in a fresh
child process whose peak resident memory (``ru_maxrss``) is reported: ``store`` (writing the
reports: the stand-in for ingest and normalise, which are not timed here), ``incidents``,
``score``, ``lens``, ``alerts``, ``rank`` (each summed over the visibility scopes), and
``publish`` (``publish_day``: the analysts' digest and exports plus a public and a law-enforcement
subscriber's, no mail sent). Each cycle starts from a copy of the cached store.

With ``--json`` the last line is
``{"history": N, "backend": ..., "stages": {NAME: SECONDS, ...}, "total_s": ..., "peak_rss_mb": ...}``
plus ``cpu_stages`` (this process's CPU seconds per stage: SQLite's work, not a PostgreSQL
server's), ``load`` (the 1-minute load average before and after the cycle: on a shared machine wall
time is only comparable at equal load) and ``touched`` (reports clustered, series scored,
incidents assessed and alerts written, summed over the scopes: what the stage times follow).
Everything is kept under ``var/bench/`` (or ``BIOTRACKER_BENCH_DIR``); a 1M store takes ~30 minutes
to build and 5 GB of disk.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import random
import resource
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: where the demo, the stores and the runs are kept (``BIOTRACKER_BENCH_DIR``: the smoke test's own folder)
CACHE = Path(os.environ.get("BIOTRACKER_BENCH_DIR") or ROOT / "var" / "bench")
UTC = dt.UTC
#: The history ends here; the new day is the day after.
END = dt.datetime(2026, 6, 1, tzinfo=UTC)
YEARS = 5
SCORED_WEEKS = 8
LOOKBACK_DAYS = 7


def _templates() -> list[dict]:
    """Every report the demo normalises from the bundled recordings (its store cached in var/bench/demo)."""
    from sqlalchemy import select

    from biotracker.config import load_settings
    from biotracker.db.engine import make_engine
    from biotracker.db.tables import reports

    home = CACHE / "demo"
    settings = load_settings({}, home=str(home))
    if not (home / "demo-done").exists():
        from biotracker.ingest.run import open_http  # noqa: F401  (fail early if the package is broken)
        from biotracker.pipeline import run_demo

        run_demo(settings, clock=lambda: dt.datetime(2026, 1, 1, tzinfo=UTC))
        (home / "demo-done").write_text("ok\n")
    with make_engine(settings).connect() as conn:
        return [dict(r) for r in conn.execute(select(reports).order_by(reports.c.report_id)).mappings()]


def _resample(
    templates: list[dict], n: int, seed: int, start: dt.datetime, days: float, tag: str, late: float = 0.0
) -> list[dict]:
    rng = random.Random(seed)
    countries = sorted({t["country_iso3"] for t in templates if t["country_iso3"]})
    out = []
    for i in range(n):
        t = rng.choice(templates)
        published = start + dt.timedelta(seconds=rng.uniform(0, days * 86400))
        back = (
            dt.timedelta(days=rng.uniform(7, 56))
            if rng.random() < late
            else dt.timedelta(days=rng.uniform(0, 6))
        )
        country = t["country_iso3"] if rng.random() < 0.5 or not countries else rng.choice(countries)
        source_id = f"{tag}{i}"
        out.append(
            t
            | {
                "report_id": f"{t['source']}:{source_id}",
                "source_id": source_id,
                "url": f"{t['url'] or 'https://bench.example/'}#{source_id}",
                "title": f"{t['title']} (item {tag}{i})",
                "published_at": published,
                "observed_at": published - back,
                "country_iso3": country,
            }
        )
    return out


def _insert(engine, rows: list[dict]) -> None:
    from biotracker.db.tables import reports

    with engine.begin() as conn:
        for i in range(0, len(rows), 5000):
            conn.execute(reports.insert(), rows[i : i + 5000])


def _scored(day: dt.datetime):
    from biotracker.schema import Window

    return Window(day - dt.timedelta(weeks=SCORED_WEEKS), day)


def _build(url: str, home: Path, history: int, seed: int) -> None:
    """A store of ``history`` resampled reports with every derived table computed (child process)."""
    from biotracker.alerts.refresh import refresh_derived
    from biotracker.config import load_settings
    from biotracker.db.engine import open_store

    templates = _templates()
    engine = open_store(load_settings({}, home=str(home), database_url=url))
    started = time.perf_counter()
    for part in range(0, history, 100_000):
        n = min(100_000, history - part)
        rows = _resample(
            templates, n, seed + part, END - dt.timedelta(days=365 * YEARS), 365 * YEARS, f"h{part}-"
        )
        _insert(engine, rows)
    print(f"stored {history} reports in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    started = time.perf_counter()
    refresh_derived(engine, _scored(END), home / "no-models", full=True)
    print(f"derived every table in {time.perf_counter() - started:.1f} s", file=sys.stderr)


def _migrate(url: str, home: Path) -> None:
    """Bring a cached store to the newest schema (child process): a store cached by an older
    release gains the newer tables and their contents (filled by the migrations) once, not on
    every copy."""
    from biotracker.config import load_settings
    from biotracker.db.engine import open_store

    open_store(load_settings({}, home=str(home), database_url=url)).dispose()


def _copy_store(source_url: str, url: str, home: Path) -> None:
    """Every table of the cached SQLite store copied into a fresh PostgreSQL database (child process).

    The derived tables are computed once, on SQLite: ``tests/alerts/test_refresh.py`` shows both
    backends derive the same rows, and a full derive of a million reports on this machine takes
    longer than copying them.
    """
    from sqlalchemy import create_engine, select, text

    from biotracker.config import load_settings
    from biotracker.db.engine import open_store
    from biotracker.db.tables import metadata

    target = open_store(load_settings({}, home=str(home), database_url=url))
    source = create_engine(source_url)
    started = time.perf_counter()
    for table in metadata.sorted_tables:  # parents first
        copied = 0
        with source.connect() as read, target.begin() as write:
            result = read.execute(select(table).execution_options(yield_per=20_000))
            for part in result.mappings().partitions():
                write.execute(table.insert(), [dict(r) for r in part])
                copied += len(part)
        if copied:
            print(
                f"  copied {copied:,} {table.name} ({time.perf_counter() - started:.0f} s)", file=sys.stderr
            )
    with target.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def _cycle(url: str, home: Path, daily: int, seed: int, queue) -> None:  # type: ignore[no-untyped-def]
    """One day: store the day's reports, derive what they change, publish (child process)."""
    from biotracker.alerts.refresh import refresh_derived
    from biotracker.config import load_settings
    from biotracker.db.engine import open_store
    from biotracker.outputs.audience import Audience, SubscriberBook
    from biotracker.outputs.publish import publish_day
    from biotracker.schema import Tlp
    from biotracker.scoring.relevance.tasks import models_dir

    templates = _templates()
    settings = load_settings({}, home=str(home), database_url=url)
    engine = open_store(settings)
    rows = _resample(templates, daily, seed + 10**9, END, 1.0, "day-", late=0.05)
    day = END + dt.timedelta(days=1)
    stages: dict[str, float] = {}
    cpu_stages: dict[str, float] = {}
    cpu = time.process_time()
    started = time.perf_counter()
    _insert(engine, rows)
    stages["store"] = time.perf_counter() - started
    cpu_stages["store"] = time.process_time() - cpu
    runs = refresh_derived(
        engine,
        _scored(day),
        models_dir(settings),
        report_ids=[r["report_id"] for r in rows],
        timings=stages,
        cpu_timings=cpu_stages,
    )
    book = SubscriberBook(
        (Audience("public", Tlp.CLEAR, "public"), Audience("police", Tlp.RED, "law_enforcement"))
    )
    started, cpu_started = time.perf_counter(), time.process_time()
    publish_day(engine, settings, day.date(), lookback_days=LOOKBACK_DAYS, subscribers=book, send=False)
    stages["publish"] = time.perf_counter() - started
    cpu_stages["publish"] = time.process_time() - cpu_started
    # CPU of this process only: it includes the SQLite engine, not a PostgreSQL server's share
    # what the stages had to touch, summed over the scopes: the sizes the stage times follow
    work = {
        "reports_clustered": sum(r.incidents.reports for r in runs),
        "series_scored": sum(r.scoring.series for r in runs),
        "incidents_assessed": sum(r.lens.incidents for r in runs),
        "alerts_written": sum(len(r.alerts.alert_ids) for r in runs),
    }
    queue.put((stages, cpu_stages, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, work))


def _spawn(target, *args):  # type: ignore[no-untyped-def]
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue) if target is _cycle else args)
    proc.start()
    result = queue.get() if target is _cycle else None
    proc.join()
    if proc.exitcode:
        raise SystemExit(f"{target.__name__} failed (exit {proc.exitcode})")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="With --json the last line is {\"history\": N, \"backend\": ..., \"stages\": {NAME: SECONDS}, "
        "\"total_s\": ..., \"peak_rss_mb\": ..., \"cpu_s\": ..., \"cpu_stages\": {...}, \"load\": [before, after], "
        "\"touched\": {...}}. The store of N reports is built once and cached (BIOTRACKER_BENCH_DIR, default "
        "var/bench/); at N = 1,000,000 building it takes about 30 minutes.",
    )
    parser.add_argument("--history", type=int, required=True, help="reports in the store before the day")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--daily", type=int, default=2000, help="new reports in the day")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the figures")
    args = parser.parse_args()

    CACHE.mkdir(parents=True, exist_ok=True)
    _templates()  # the demo store, once
    work = CACHE / f"run-{args.backend}-{args.history}"
    shutil.rmtree(work, ignore_errors=True)
    cluster = None
    cached = CACHE / f"store-{args.history}-{args.seed}"
    if not (cached / "biotracker.db").exists():
        shutil.rmtree(cached, ignore_errors=True)
        started = time.perf_counter()
        _spawn(_build, f"sqlite:///{cached / 'biotracker.db'}", cached, args.history, args.seed)
        print(
            f"built the store in {time.perf_counter() - started:.0f} s (cached in {cached})", file=sys.stderr
        )
    _spawn(_migrate, f"sqlite:///{cached / 'biotracker.db'}", cached)
    if args.backend == "sqlite":
        shutil.copytree(cached, work)
        os.sync()  # the copy's writeback (gigabytes at 1M) must not land in the cycle's time
        url = f"sqlite:///{work / 'biotracker.db'}"
    else:
        from tests.pg_cluster import create_database, start_cluster

        cluster = start_cluster()
        url = create_database(cluster, "bench")
        work.mkdir(parents=True)
        started = time.perf_counter()
        _spawn(_copy_store, f"sqlite:///{cached / 'biotracker.db'}", url, work)
        print(f"copied the store into PostgreSQL in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    try:
        load_before = os.getloadavg()[0]
        stages, cpu_stages, peak, touched = _spawn(_cycle, url, work, args.daily, args.seed)  # own process
        load_after = os.getloadavg()[0]
    finally:
        if cluster is not None:
            from tests.pg_cluster import stop_cluster

            stop_cluster(cluster)
    total = sum(stages.values())
    cpu = sum(cpu_stages.values())
    print(f"daily cycle of {args.daily} reports on {args.history:,} ({args.backend}):")
    print(f"  {'stage':<10} {'wall':>8}   {'CPU':>8} (this process)")
    for name, seconds in stages.items():
        print(f"  {name:<10} {seconds:8.2f} s {cpu_stages.get(name, 0.0):8.2f} s")
    print(f"  {'total':<10} {total:8.2f} s {cpu:8.2f} s   peak RSS {peak / 1024:.0f} MB")
    print("  touched: " + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in touched.items()))
    print(f"  1-minute load average {load_before:.2f} before, {load_after:.2f} after ({os.cpu_count()} CPUs)")
    if args.json:
        print(
            json.dumps(
                {
                    "history": args.history,
                    "backend": args.backend,
                    "stages": {k: round(v, 3) for k, v in stages.items()},
                    "total_s": round(total, 3),
                    "peak_rss_mb": round(peak / 1024, 1),
                    "cpu_s": round(cpu, 3),
                    "cpu_stages": {k: round(v, 3) for k, v in cpu_stages.items()},
                    "load": [round(load_before, 2), round(load_after, 2)],
                    "touched": touched,
                }
            )
        )


if __name__ == "__main__":
    main()
