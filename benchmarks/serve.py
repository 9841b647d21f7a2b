"""Latency and throughput of ``biotracker serve`` under 50 concurrent analysts (targets: p95 < 300 ms
for reads, < 1 s for a contribution to be stored; no errors).

    python benchmarks/serve.py [--reports 1000000] [--alerts 100000] [--analysts 50] [--seconds 60]
                               [--workers 2] [--database-url postgresql+psycopg://...]

Without ``--database-url`` a throwaway PostgreSQL cluster is started (tests/pg_cluster.py). The
store is the demo's (the bundled real recordings run through the whole pipeline), resampled in SQL
to ``--reports`` reports and ``--alerts`` alerts: each copy keeps a real report's title, text,
disease and country, moves its dates by whole weeks, and gets an access profile (60% feed records
of the community, 40% contributions of one of five organisations marked AMBER with a share list,
AMBER+STRICT or RED). Alerts are copies of the demo's alerts on other weeks. Five organisations,
``--analysts`` analysts and five contributors get tokens.

The server runs as its own process (``biotracker serve`` on 127.0.0.1); simulated analysts loop
over: the alert list filtered by a country and paginated two pages, one alert, one report, and
(contributors) a contribution. Printed per request kind: count, errors, p50/p95/p99 in ms, and
the throughput of the whole run.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ORGS = ["NCB-NL", "NCB-FR", "NCB-KE", "INTERPOL", "WHO-EURO"]


def build_store(url: str, home: Path, reports_wanted: int, alerts_wanted: int) -> None:
    from sqlalchemy import text

    from biotracker.config import load_settings
    from biotracker.db.engine import open_store
    from biotracker.pipeline import run_demo

    settings = load_settings({}, home=str(home), database_url=url)
    t0 = time.perf_counter()
    run_demo(settings, clock=lambda: dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    print(f"demo pipeline on PostgreSQL: {time.perf_counter() - t0:.0f} s", flush=True)
    engine = open_store(settings)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        base = conn.execute(text("SELECT count(*) FROM reports")).scalar_one()
        copies = max(0, -(-(reports_wanted - base) // base))
        conn.execute(text(f"""
            INSERT INTO reports (report_id, source, source_id, url, title, summary, text, published_at,
                observed_at, disease, pathogen, host, country_iso3, admin_area, lat, lon, cases, deaths,
                language, tlp, raw_sha256, evidence, originator_org, share_with, share_users)
            SELECT 'bench' || g || ':' || r.report_id, CASE WHEN g % 5 < 3 THEN r.source ELSE 'contributions' END,
                   g || ':' || r.source_id, r.url, r.title, r.summary, r.text,
                   r.published_at - make_interval(weeks => g % 260), r.observed_at - make_interval(weeks => g % 260),
                   r.disease, r.pathogen, r.host, r.country_iso3, r.admin_area, r.lat, r.lon, r.cases, r.deaths,
                   r.language,
                   CASE WHEN g % 5 < 3 THEN r.tlp WHEN g % 5 = 3 THEN 'AMBER' ELSE
                        (CASE WHEN g % 2 = 0 THEN 'AMBER+STRICT' ELSE 'RED' END) END,
                   r.raw_sha256, '{{}}'::json,
                   CASE WHEN g % 5 < 3 THEN NULL ELSE (ARRAY{ORGS!r})[1 + g % {len(ORGS)}] END,
                   CASE WHEN g % 5 = 3 THEN json_build_array((ARRAY{ORGS!r})[1 + (g + 1) % {len(ORGS)}]) END,
                   CASE WHEN g % 5 = 4 THEN json_build_array('analyst' || (g % 50)) END
            FROM generate_series(1, {copies}) AS g CROSS JOIN reports r
            LIMIT {max(0, reports_wanted - base)}
        """))
        alerts_base = conn.execute(text("SELECT count(*) FROM alerts")).scalar_one()
        alert_copies = max(0, -(-(alerts_wanted - alerts_base) // max(alerts_base, 1)))
        conn.execute(text(f"""
            INSERT INTO alerts (alert_id, incident_id, signal_id, period_start, headline, tier, reasons, status,
                tlp, country_iso3, disease, source_urls, last_period, rule, features)
            SELECT 'bench' || g || '-' || a.alert_id, a.incident_id, a.signal_id,
                   a.period_start - 7 * (g % 260), a.headline, a.tier, a.reasons, a.status, a.tlp,
                   a.country_iso3, a.disease, a.source_urls, a.last_period - 7 * (g % 260), a.rule, a.features
            FROM generate_series(1, {alert_copies}) AS g CROSS JOIN alerts a
            LIMIT {max(0, alerts_wanted - alerts_base)}
        """))
        conn.execute(text("ANALYZE"))
        counts = conn.execute(text("SELECT (SELECT count(*) FROM reports), (SELECT count(*) FROM alerts)")).one()
    print(f"resampled store: {counts[0]:,} reports, {counts[1]:,} alerts in {time.perf_counter() - t0:.0f} s",
          flush=True)
    engine.dispose()


def sample_report_ids(url: str, home: Path, n: int = 2000) -> list[str]:
    from sqlalchemy import text

    from biotracker.config import load_settings
    from biotracker.db.engine import make_engine

    engine = make_engine(load_settings({}, home=str(home), database_url=url))
    with engine.connect() as conn:
        ids = list(conn.execute(text(f"SELECT report_id FROM reports ORDER BY random() LIMIT {n}")).scalars())
    engine.dispose()
    return ids


def make_people(url: str, home: Path, analysts: int) -> tuple[list[str], list[str]]:
    """Tokens of the analysts and of one contributor per organisation (cheap password hashing:
    the benchmark never logs in with a password)."""
    from argon2 import PasswordHasher

    from biotracker.access import Role
    from biotracker.config import load_settings
    from biotracker.db.engine import open_store
    from biotracker.server import accounts

    accounts._HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    now = dt.datetime.now(dt.UTC)
    engine = open_store(load_settings({}, home=str(home), database_url=url))
    readers, writers = [], []
    with engine.begin() as conn:
        for org in ORGS:
            accounts.add_org(conn, org, now)
            accounts.add_user(conn, f"contrib.{org}", org, Role.CONTRIBUTOR, "benchmark password", now)
            writers.append(accounts.issue_token(conn, f"contrib.{org}", accounts.Scope.WRITE, now,
                                                dt.timedelta(days=1))[1])
        for i in range(analysts):
            accounts.add_user(conn, f"analyst{i}", ORGS[i % len(ORGS)], Role.ANALYST, "benchmark password", now)
            readers.append(accounts.issue_token(conn, f"analyst{i}", accounts.Scope.READ, now, dt.timedelta(days=1))[1])
    engine.dispose()
    return readers, writers


async def drive(
    url: str, readers: list[str], writers: list[str], report_ids: list[str], seconds: float, seed: int
) -> dict[str, list]:
    import httpx

    rng = random.Random(seed)
    timings: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    countries = ["NLD", "FRA", "KEN", "USA", "NGA", "IND", "CHN", "BRA", "COD", "UGA"]
    deadline = time.monotonic() + seconds

    async def timed(kind: str, call) -> httpx.Response | None:  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            response = await call
        except httpx.HTTPError:
            errors[kind] += 1
            return None
        timings[kind].append((time.perf_counter() - started) * 1000)
        if response.status_code >= 400 and response.status_code != 404:
            errors[kind] += 1
        return response

    async def analyst(token: str) -> None:
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"},
                                     timeout=60) as client:
            while time.monotonic() < deadline:
                params = {"country": rng.choice(countries), "limit": 20}
                page = await timed("alert list (filtered)", client.get("/api/v1/alerts", params=params))
                items = page.json()["items"] if page is not None and page.status_code == 200 else []
                if page is not None and page.status_code == 200 and page.json()["next"]:
                    await timed("alert list (page 2)", client.get(
                        "/api/v1/alerts", params=params | {"cursor": page.json()["next"]}))
                if items:
                    await timed("alert page data", client.get(f"/api/v1/alerts/{rng.choice(items)['alert_id']}"))
                await timed("report", client.get(f"/api/v1/reports/{rng.choice(report_ids)}"))

    async def contributor(token: str) -> None:
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"},
                                     timeout=60) as client:
            while time.monotonic() < deadline:
                body = {"title": f"Benchmark contribution {rng.random()}", "text": "Anthrax in cattle.",
                        "country_iso3": rng.choice(countries), "reported_at": "2026-11-28T10:00:00Z"}
                await timed("contribution", client.post("/api/v1/reports", json=body))
                await asyncio.sleep(1)

    await asyncio.gather(*(analyst(t) for t in readers), *(contributor(t) for t in writers))
    return {"timings": timings, "errors": errors}  # type: ignore[dict-item]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--analysts", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--database-url")
    args = parser.parse_args()

    cluster = None
    if args.database_url is None:
        from tests import pg_cluster

        cluster = pg_cluster.start_cluster()
        args.database_url = pg_cluster.create_database(cluster, "bt_bench")
    home = Path(tempfile.mkdtemp(prefix="bt-bench-serve-"))
    server = None
    try:
        build_store(args.database_url, home, args.reports, args.alerts)
        readers, writers = make_people(args.database_url, home, args.analysts)
        report_ids = sample_report_ids(args.database_url, home)
        from tests.server.conftest import free_port

        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("BIOTRACKER_")} | {
            "BIOTRACKER_HOME": str(home), "BIOTRACKER_DATABASE_URL": args.database_url,
            "BIOTRACKER_SERVER_SECRET_KEY": "benchmark",
        }
        server = subprocess.Popen([str(Path(sys.executable).parent / "biotracker"), "serve", "--host", "127.0.0.1",
                                   "--port", str(port), "--workers", str(args.workers)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import httpx

        url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(f"{url}/api/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        started = time.perf_counter()
        result = asyncio.run(drive(url, readers, writers, report_ids, args.seconds, args.seed))
        wall = time.perf_counter() - started
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if cluster is not None:
            from tests import pg_cluster

            pg_cluster.stop_cluster(cluster)
    timings, errors = result["timings"], result["errors"]
    total = sum(len(v) for v in timings.values())
    print(f"\n{args.analysts} analysts + {len(writers)} contributors, {args.workers} server workers, "
          f"{wall:.0f} s, {total:,} requests, "
          f"{total / wall:.1f} requests/s")
    print(f"{'request':24} {'count':>7} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for kind, values in sorted(timings.items()):
        q = statistics.quantiles(values, n=100) if len(values) > 1 else values * 99
        print(f"{kind:24} {len(values):7} {errors.get(kind, 0):6} {q[49]:8.0f} {q[94]:8.0f} {q[98]:8.0f}")


if __name__ == "__main__":
    main()
