"""Latency and throughput of ``biotracker serve`` under 50 concurrent analysts (targets: p95 < 300 ms
for reads, < 1 s for a contribution to be stored; no errors).

    python benchmarks/serve.py [--reports 1000000] [--alerts 100000] [--analysts 50] [--seconds 60]
                               [--think 0.5 2.0] [--warmup 10] [--workers 2] [--pages]
                               [--database-url postgresql+psycopg://...] [--json]

Without ``--database-url`` a throwaway PostgreSQL cluster is started (tests/pg_cluster.py). The
store is the demo's (the bundled real recordings run through the whole pipeline; a database that
already holds a demo run is reused as it is), resampled in SQL:

- reports: ``ceil(--reports / demo reports)`` copies of every demo report, copy ``g`` moved ``g``
  weeks back, each copy with one access profile (60% of copies: the community's feed records as
  recorded; 40%: contributions of one of five organisations marked TLP:AMBER shared with another
  organisation, AMBER+STRICT, or RED naming one analyst);
- derived rows (incidents, their report links, assessments, signals, alerts) for EVERY scope the
  code materialises for that store (``incidents/scopes.py``), each scope holding copies of the
  demo's derived rows for the report copies that scope may see only (feed copies from the demo
  scope that sees the same records, contribution copies from the demo's widest scope), moved by
  the same weeks, with their ids qualified for the scope; as many copies as make ``--alerts``
  alerts over all scopes.

All of it is ``INSERT … SELECT`` over the demo's rows (no row passes through Python), loaded with
secondary indexes rebuilt once at the end. A database this script resampled before is measured
again as it is (no rebuild).

The server runs as its own process (``biotracker serve`` on 127.0.0.1, ``--workers`` processes);
this process is the load generator (asyncio, one connection per simulated user). Each analyst
loops: the alert list filtered by a country, its next page, one alert of it, that alert's incident
(when the server has the incidents route), one report; each step after a think time drawn
uniformly from ``--think``. With ``--pages`` the analysts use the workbench instead, as a person in a
browser would: each logs in through the login form (``GET /login`` for its CSRF token, ``POST
/login``; a session cookie), then loops: the queue's first page filtered by a country, by a tier,
or by both, one alert page of it, that alert's incident page. One contributor per organisation posts one report per step, after the
same think time. The first ``--warmup`` seconds (new connections, cold caches) are not counted.
Printed: the machine's load average before and after, the CPU the server and PostgreSQL used per
request, the store's sizes, and per request kind the count, errors (any answer >= 400 but 404, and
transport failures), p50/p95/p99 in ms and throughput, and the server's own p95 (its
``Server-Timing`` header: the time in the application, without the loopback and the client's
event loop, which 50 analysts on one asyncio thread share). ``--json`` adds the same figures as one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ORGS = ["NCB-NL", "NCB-FR", "NCB-KE", "INTERPOL", "WHO-EURO"]
MARKINGS = ["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"]  # least restrictive first
#: The derived tables copied per scope, parents first.
DERIVED = (
    "incidents", "incident_reports", "series_counts", "country_months", "incident_assessments", "signals", "alerts"
)
STAGED = ("reports", *DERIVED)


# --- access profiles of the report copies -----------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """How copy ``g`` of the demo's reports is marked: ``None`` marking = as recorded (a feed copy)."""

    marking: str | None
    org: str | None = None
    share_with: tuple[str, ...] = ()
    share_users: tuple[str, ...] = ()


def profile(g: int) -> Profile:
    kind, org = g % 5, ORGS[(g // 5) % len(ORGS)]
    if kind < 3:
        return Profile(None)
    if kind == 3:
        return Profile("AMBER", org, (ORGS[(g // 5 + 1) % len(ORGS)],))
    if g % 2 == 0:
        return Profile("AMBER+STRICT", org)
    return Profile("RED", org, (), (f"analyst{g % 50}",))


def _sql_profile() -> dict[str, str]:
    """The same profiles as SQL expressions of ``g`` (kept next to :func:`profile`, which they mirror)."""
    orgs = "ARRAY[" + ", ".join(f"'{o}'" for o in ORGS) + "]"
    n = len(ORGS)
    return {
        "contribution": "(g % 5 >= 3)",
        "marking": "(CASE WHEN g % 5 = 3 THEN 'AMBER' WHEN g % 2 = 0 THEN 'AMBER+STRICT' ELSE 'RED' END)",
        "org": f"({orgs})[1 + (g / 5) % {n}]",
        "share_with": f"CASE WHEN g % 5 = 3 THEN json_build_array(({orgs})[1 + (g / 5 + 1) % {n}]) END",
        "share_users": "CASE WHEN g % 5 = 4 AND g % 2 = 1 THEN json_build_array('analyst' || (g % 50)) END",
    }


def _stricter(a: str, b: str) -> str:
    """SQL: the more restrictive of two TLP values."""
    order = "ARRAY[" + ", ".join(f"'{m}'" for m in MARKINGS) + "]"
    return (f"(CASE WHEN array_position({order}, {a}::text) >= array_position({order}, {b}::text) "
            f"THEN {a} ELSE {b} END)")


def report_id_sql(g: str, rid: str) -> str:
    """SQL: the id of copy ``g`` of demo report ``rid`` (contribution copies are ``contributions:`` ids)."""
    return f"(CASE WHEN {g} % 5 >= 3 THEN 'contributions:b' ELSE 'b' END || {g} || '-' || {rid})"


# --- scopes ------------------------------------------------------------------------------------------


def scopes_of(conn: Any, community_org: str) -> list[Any]:
    """The scopes the code materialises for the store as it is now (organisation scopes when the
    code has them)."""
    from biotracker.incidents import scopes

    intake = scopes.intake_sources()
    with_orgs = getattr(scopes, "materialised_with_organisations", None)
    if with_orgs is not None:
        return list(with_orgs(conn, intake, community_org))
    return list(scopes.materialised_scopes(scopes.present_classes(conn, intake)))


def admits(scope: Any, row: dict[str, Any], intake: frozenset[str]) -> bool:
    """The code's own answer to "may this scope use this report?"."""
    if hasattr(scope, "admits"):
        return bool(scope.admits(row, intake))
    from biotracker.schema import Tlp

    return bool(scope.sees(Tlp(row["tlp"]), row["source"] in intake))


def feed_source_scope(scope: Any, demo_scopes: Sequence[Any], demo_rows: Sequence[dict[str, Any]],
                      intake: frozenset[str]) -> Any:
    """The demo scope whose rows a feed copy in ``scope`` takes: the one that admits exactly the same
    demo reports (else the widest one admitting no more)."""
    wanted = {i for i, r in enumerate(demo_rows) if admits(scope, r, intake)}
    seen = {s.key: {i for i, r in enumerate(demo_rows) if admits(s, r, intake)} for s in demo_scopes}
    exact = [s for s in demo_scopes if seen[s.key] == wanted]
    if exact:
        return exact[0]
    within = [s for s in demo_scopes if seen[s.key] <= wanted]
    return max(within, key=lambda s: len(seen[s.key]))


# --- the store ------------------------------------------------------------------------------------


@dataclass
class Store:
    build_s: float = 0.0
    demo_s: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    alerts_by_scope: dict[str, int] = field(default_factory=dict)
    scopes: list[str] = field(default_factory=list)  # the scopes the code materialises for the store


def _columns(conn: Any, table: str) -> list[str]:
    from sqlalchemy import text

    return list(conn.execute(text(
        "SELECT column_name FROM information_schema.columns WHERE table_name = :t AND table_schema = "
        "current_schema() ORDER BY ordinal_position"), {"t": table}).scalars())


def _insert_select(conn: Any, table: str, overrides: dict[str, str], source: str) -> int:
    """``INSERT INTO table (every column) SELECT <override or same column> FROM source``."""
    from sqlalchemy import text

    cols = _columns(conn, table)
    exprs = [overrides.get(c, f"d.{c}") for c in cols]
    quoted = ", ".join(f'"{c}"' for c in cols)
    return int(conn.execute(text(f"INSERT INTO {table} ({quoted}) SELECT {', '.join(exprs)} {source}")).rowcount)


def build_store(url: str, home: Path, reports_wanted: int, alerts_wanted: int) -> Store:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from biotracker.config import load_settings
    from biotracker.db.engine import open_store
    from biotracker.incidents.scopes import intake_sources

    settings = load_settings({}, home=str(home), database_url=url)
    store = Store()
    engine = open_store(settings)
    with engine.connect() as conn:
        has_demo = conn.execute(text("SELECT count(*) FROM reports")).scalar_one() > 0
        resampled = conn.execute(text("SELECT EXISTS (SELECT 1 FROM reports WHERE report_id LIKE 'b0-%')")).scalar()
    if resampled:  # a store this script built before: measure it again as it is
        print("the store is already resampled (by an earlier run of this script): reused as it is", flush=True)
        with engine.connect() as conn:
            store.scopes = [s.key for s in scopes_of(conn, settings.community_org)]
            store.counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in STAGED}
            store.alerts_by_scope = dict(conn.execute(text(
                "SELECT scope, count(*) FROM alerts GROUP BY scope ORDER BY scope")).all())
        engine.dispose()
        return store
    if not has_demo:
        from biotracker.pipeline import run_demo

        t0 = time.perf_counter()
        run_demo(settings, clock=lambda: dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        store.demo_s = time.perf_counter() - t0
        print(f"demo pipeline on PostgreSQL: {store.demo_s:.0f} s", flush=True)
    intake = intake_sources()
    t0 = time.perf_counter()
    p = _sql_profile()
    with engine.begin() as conn:
        demo_scopes = scopes_of(conn, settings.community_org)
        demo_rows = [dict(r) for r in conn.execute(text(
            "SELECT DISTINCT source, tlp, originator_org, share_with::text AS share_with, withdrawn_at "
            "FROM reports")).mappings()]
        for r in demo_rows:
            r["share_with"] = json.loads(r["share_with"]) if r["share_with"] else None
        base = conn.execute(text("SELECT count(*) FROM reports")).scalar_one()
        per_scope_alerts = dict(conn.execute(text("SELECT scope, count(*) FROM alerts GROUP BY scope")).all())
        widest = max(demo_scopes, key=lambda s: sum(admits(s, r, intake) for r in demo_rows))
        for table in STAGED:
            conn.execute(text(f"CREATE TEMP TABLE demo_{table} AS SELECT * FROM {table}"))
        conn.execute(text("TRUNCATE reports, " + ", ".join(DERIVED) + " CASCADE"))
        # A bulk load: secondary indexes are rebuilt once at the end (faster than row by row), and
        # foreign keys are not checked row by row (every copied id is built from a demo row that
        # satisfied them; tests/benchmarks/test_serve.py checks the result).
        indexes = list(conn.execute(text(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
            "AND i.tablename = ANY(:t) AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"),
            {"t": list(STAGED)}).all())
        for name, _ in indexes:
            conn.execute(text(f'DROP INDEX "{name}"'))
        try:
            with conn.begin_nested():  # a superuser's privilege; without it the keys are checked
                conn.execute(text("SET LOCAL session_replication_role = replica"))
        except DBAPIError:
            print("foreign keys checked row by row (the database user may not set session_replication_role)")
        copies = max(1, math.ceil(reports_wanted / base))
        # reports: every copy of every demo report
        _insert_select(conn, "reports", {
            "report_id": report_id_sql("g", "d.report_id"),
            "source": f"CASE WHEN {p['contribution']} THEN 'contributions' ELSE d.source END",
            "source_id": "'b' || g || '-' || d.source_id",
            "published_at": "d.published_at - make_interval(weeks => g)",
            "observed_at": "d.observed_at - make_interval(weeks => g)",
            "tlp": f"CASE WHEN {p['contribution']} THEN {p['marking']} ELSE d.tlp END",
            "originator_org": f"CASE WHEN {p['contribution']} THEN {p['org']} ELSE d.originator_org END",
            "share_with": f"CASE WHEN {p['contribution']} THEN {p['share_with']} ELSE d.share_with END",
            "share_users": f"CASE WHEN {p['contribution']} THEN {p['share_users']} ELSE d.share_users END",
        }, f"FROM generate_series(0, {copies - 1}) AS g CROSS JOIN demo_reports d")
        # the scopes the code materialises for the resampled reports, and which copies each may use
        scopes = scopes_of(conn, settings.community_org)
        store.scopes = [s.key for s in scopes]
        plans: dict[str, tuple[Any, dict[int, str]]] = {}
        for scope in scopes:
            feed_src = feed_source_scope(scope, demo_scopes, demo_rows, intake).key
            visible: dict[int, str] = {}
            for g in range(copies):
                prof = profile(g)
                if prof.marking is None:
                    visible[g] = feed_src
                    continue
                row = {"source": "contributions", "tlp": prof.marking, "originator_org": prof.org,
                       "share_with": list(prof.share_with), "share_users": list(prof.share_users),
                       "withdrawn_at": None}
                if admits(scope, row, intake):
                    visible[g] = widest.key
            plans[scope.key] = (scope, visible)

        def alerts_with(derived_copies: int) -> int:
            return sum(per_scope_alerts.get(src, 0) for _, vis in plans.values()
                       for g, src in vis.items() if g < derived_copies)

        derived_copies = next((n for n in range(1, copies + 1) if alerts_with(n) >= alerts_wanted), copies)
        for scope, visible in plans.values():
            _copy_derived(conn, scope, visible, derived_copies)
        for table in STAGED:
            conn.execute(text(f"DROP TABLE demo_{table}"))
        conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
        for _, definition in indexes:
            conn.execute(text(definition))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        store.counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in STAGED}
        store.alerts_by_scope = dict(conn.execute(text(
            "SELECT scope, count(*) FROM alerts GROUP BY scope ORDER BY scope")).all())
    store.build_s = time.perf_counter() - t0
    print(f"resampled store in {store.build_s:.0f} s: "
          + ", ".join(f"{v:,} {k}" for k, v in store.counts.items()), flush=True)
    print("alerts by scope: " + ", ".join(f"{k} {v:,}" for k, v in store.alerts_by_scope.items()), flush=True)
    engine.dispose()
    return store


def _copy_derived(conn: Any, scope: Any, visible: dict[int, str], derived_copies: int) -> None:
    """The demo's derived rows, copied into ``scope`` for the report copies it may use."""
    from sqlalchemy import text

    p = _sql_profile()
    suffix = scope.qualify("") if hasattr(scope, "qualify") else ""

    def qualified(column: str) -> str:  # the copy's id: natural id, copy number, this scope's suffix
        return f"('b' || g || '-' || split_part({column}, '~', 1) || '{suffix}')"

    def marked(column: str) -> str:
        return f"CASE WHEN {p['contribution']} THEN {_stricter(column, p['marking'])} ELSE {column} END"

    by_source: dict[str, list[int]] = defaultdict(list)
    for g, src in visible.items():
        if g < derived_copies:
            by_source[src].append(g)
    for src, gs in by_source.items():
        copies = "ARRAY[" + ",".join(map(str, gs)) + "]::int[]"
        source = f"FROM unnest({copies}) AS g CROSS JOIN demo_{{t}} d WHERE d.scope = '{src}'"
        week = "make_interval(weeks => g)"
        _insert_select(conn, "incidents", {
            "incident_id": qualified("d.incident_id"), "scope": f"'{scope.key}'", "tlp": marked("d.tlp"),
            "first_seen_at": f"d.first_seen_at - {week}", "last_seen_at": f"d.last_seen_at - {week}",
        }, source.format(t="incidents"))
        _insert_select(conn, "incident_reports", {
            "incident_id": qualified("d.incident_id"), "scope": f"'{scope.key}'",
            "report_id": report_id_sql("g", "d.report_id"),
            "linked_to": f"CASE WHEN d.linked_to IS NOT NULL THEN {report_id_sql('g', 'd.linked_to')} END",
            "duplicate_of": f"CASE WHEN d.duplicate_of IS NOT NULL THEN {report_id_sql('g', 'd.duplicate_of')} END",
            "period_start": "d.period_start - 7 * g",
        }, source.format(t="incident_reports"))
        _insert_select(conn, "incident_assessments", {
            "incident_id": qualified("d.incident_id"), "scope": f"'{scope.key}'",
        }, source.format(t="incident_assessments"))
        _insert_select(conn, "signals", {
            "signal_id": qualified("d.signal_id"), "scope": f"'{scope.key}'",
            "period_start": "d.period_start - 7 * g",
        }, source.format(t="signals"))
        _insert_select(conn, "alerts", {
            "alert_id": qualified("d.alert_id"), "scope": f"'{scope.key}'",
            "incident_id": f"CASE WHEN d.incident_id IS NOT NULL THEN {qualified('d.incident_id')} END",
            "signal_id": f"CASE WHEN d.signal_id IS NOT NULL THEN {qualified('d.signal_id')} END",
            "period_start": "d.period_start - 7 * g", "last_period": "d.last_period - 7 * g",
            "tlp": marked("d.tlp"),
        }, source.format(t="alerts"))
    # the weekly counts clustering keeps (incidents/series_counts.py), from the copied links
    part = "NULLIF(split_part(series_key, '|', {i}), '*')"
    conn.execute(text(
        "INSERT INTO series_counts (scope, series_key, period_start, disease, country_iso3, host, n) "
        f"SELECT scope, series_key, period_start, {part.format(i=1)}, {part.format(i=2)}, {part.format(i=3)}, "
        "count(*) FROM incident_reports WHERE scope = :scope AND period_start IS NOT NULL "
        "AND duplicate_of IS NULL AND series_key IS NOT NULL GROUP BY scope, series_key, period_start"
    ), {"scope": scope.key})
    conn.execute(text(
        "INSERT INTO country_months (scope, disease, country_iso3, month, n) "
        "SELECT scope, coalesce(disease, '*'), country_iso3, extract(month FROM period_start)::int, sum(n) "
        "FROM series_counts WHERE scope = :scope AND country_iso3 IS NOT NULL "
        "GROUP BY scope, coalesce(disease, '*'), country_iso3, extract(month FROM period_start)::int"
    ), {"scope": scope.key})


# --- people and samples ---------------------------------------------------------------------------


def make_people(url: str, home: Path, analysts: int) -> tuple[list[str], list[str]]:
    """Tokens of the analysts (spread over the organisations) and of one contributor per organisation
    (cheap password hashing: ``--pages`` analysts log in with :data:`PASSWORD` through the form)."""
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
        def add_user(name: str, org: str, role: Role) -> None:
            if accounts.find_user(conn, name) is None:  # a reused store has them already
                accounts.add_user(conn, name, org, role, PASSWORD, now)

        for org in ORGS:
            if not accounts.org_exists(conn, org):
                accounts.add_org(conn, org, now)
            add_user(f"contrib.{org}", org, Role.CONTRIBUTOR)
            writers.append(accounts.issue_token(conn, f"contrib.{org}", accounts.Scope.WRITE, now,
                                                dt.timedelta(days=1))[1])
        for i in range(analysts):
            add_user(f"analyst{i}", ORGS[i % len(ORGS)], Role.ANALYST)
            readers.append(accounts.issue_token(conn, f"analyst{i}", accounts.Scope.READ, now, dt.timedelta(days=1))[1])
    engine.dispose()
    return readers, writers


def samples(url: str, home: Path, n: int = 2000) -> tuple[list[str], list[str]]:
    """Report ids to open (a random sample of the store) and countries to filter by (as often as
    they occur among the alerts)."""
    from sqlalchemy import text

    from biotracker.config import load_settings
    from biotracker.db.engine import make_engine

    engine = make_engine(load_settings({}, home=str(home), database_url=url))
    with engine.connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM reports")).scalar_one()
        share = min(100.0, 100.0 * 3 * n / max(total, 1))
        ids = list(conn.execute(text(
            f"SELECT report_id FROM reports TABLESAMPLE SYSTEM ({share}) LIMIT {n}")).scalars())
        countries = list(conn.execute(text(
            "SELECT country_iso3 FROM alerts WHERE country_iso3 IS NOT NULL ORDER BY random() LIMIT 500")).scalars())
    engine.dispose()
    return ids, countries


# --- the load -------------------------------------------------------------------------------------

PASSWORD = "benchmark password"  # every benchmark user's (make_people)
TIERS = ["critical", "high", "medium", "low"]
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
ALERT_LINK = re.compile(r'href="/alerts/([^"/?#]+)"')
INCIDENT_LINK = re.compile(r'href="/incidents/([^"/?#]+)"')


def server_timing(header: str) -> float | None:
    """The ``dur`` (ms) of a ``Server-Timing`` header such as ``app;dur=12.3``, or None."""
    found = re.search(r"dur=([0-9.]+)", header)
    return float(found.group(1)) if found else None



@dataclass
class Tally:
    timings: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    server_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # Server-Timing
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    examples: dict[str, str] = field(default_factory=dict)
    warmup: int = 0  # requests answered during the warm-up, not counted


async def drive(url: str, readers: list[str], writers: list[str], report_ids: list[str], countries: list[str],
                seconds: float, think: tuple[float, float], seed: int, incidents_route: bool,
                warmup: float = 0.0, pages: list[str] | None = None) -> Tally:
    """The load: API analysts (``readers``' tokens), or with ``pages`` (the analysts' usernames)
    workbench analysts, and the contributors (``writers``' tokens)."""
    import httpx

    rng = random.Random(seed)
    tally = Tally()
    measured_from = time.monotonic() + warmup
    deadline = measured_from + seconds

    async def timed(kind: str, call: Awaitable[httpx.Response]) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = await call
        except httpx.HTTPError as exc:
            tally.errors[kind] += 1
            tally.examples.setdefault(kind, repr(exc))
            return None
        if time.monotonic() >= measured_from:  # not a warm-up request
            tally.timings[kind].append((time.perf_counter() - started) * 1000)
            own = server_timing(response.headers.get("server-timing", ""))
            if own is not None:
                tally.server_ms[kind].append(own)
        else:
            tally.warmup += 1
        if response.status_code >= 400 and response.status_code != 404:
            tally.errors[kind] += 1
            tally.examples.setdefault(kind, f"{response.status_code} {response.text[:200]}")
            return None
        return response if response.status_code < 400 else None

    async def pause() -> bool:
        await asyncio.sleep(rng.uniform(*think))
        return time.monotonic() < deadline

    def client(token: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60,
                                 limits=httpx.Limits(max_connections=1))

    async def analyst(token: str) -> None:
        async with client(token) as http:
            while await pause():
                params = {"country": rng.choice(countries), "limit": 20}
                page = await timed("alert list (filtered)", http.get("/api/v1/alerts", params=params))
                if page is None:
                    continue
                items = page.json()["items"]
                if page.json()["next"] and await pause():
                    more = await timed("alert list (next page)", http.get(
                        "/api/v1/alerts", params=params | {"cursor": page.json()["next"]}))
                    items = (more.json()["items"] if more is not None else []) or items
                if items and await pause():
                    alert = await timed("alert page data", http.get(f"/api/v1/alerts/{rng.choice(items)['alert_id']}"))
                    incident = alert.json().get("incident_id") if alert is not None else None
                    if incidents_route and incident and await pause():
                        await timed("incident data", http.get(f"/api/v1/incidents/{incident}"))
                if await pause():
                    await timed("report", http.get(f"/api/v1/reports/{rng.choice(report_ids)}"))

    async def page_analyst(username: str) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=httpx.Limits(max_connections=1)) as http:
            form = await timed("login", http.get("/login"))
            if form is None:
                return
            csrf = CSRF_FIELD.search(form.text)
            logged_in = await timed("login", http.post("/login", data={
                "username": username, "password": PASSWORD, "csrf_token": csrf.group(1) if csrf else ""}))
            if logged_in is None or "bt_session" not in http.cookies:
                tally.errors["login"] += 1
                tally.examples.setdefault("login", f"no session for {username}")
                return
            while await pause():
                params: dict[str, str] = {}
                which = rng.randrange(3)
                if which != 1:
                    params["country"] = rng.choice(countries)
                if which != 0:
                    params["tier"] = rng.choice(TIERS)
                queue = await timed("queue page (filtered)", http.get("/", params=params))
                if queue is None:
                    continue
                alert_ids = ALERT_LINK.findall(queue.text)
                if alert_ids and await pause():
                    alert = await timed("alert page", http.get(f"/alerts/{rng.choice(alert_ids)}"))
                    incident_ids = INCIDENT_LINK.findall(alert.text) if alert is not None else []
                    if incident_ids and await pause():
                        await timed("incident page", http.get(f"/incidents/{incident_ids[0]}"))

    async def contributor(token: str) -> None:
        async with client(token) as http:
            while await pause():
                body = {"title": f"Benchmark contribution {rng.random()}", "text": "Anthrax in cattle.",
                        "country_iso3": rng.choice(countries), "reported_at": "2026-11-28T10:00:00Z"}
                await timed("contribution", http.post("/api/v1/reports", json=body))

    browsing = [page_analyst(u) for u in pages] if pages is not None else [analyst(t) for t in readers]
    await asyncio.gather(*browsing, *(contributor(t) for t in writers))
    return tally


def start_server(url: str, home: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    from tests.server.conftest import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BIOTRACKER_")} | {
        "BIOTRACKER_HOME": str(home), "BIOTRACKER_DATABASE_URL": url, "BIOTRACKER_SERVER_SECRET_KEY": "benchmark",
        "BIOTRACKER_SERVER_COOKIE_SECURE": "false",  # the session cookie over plain HTTP on loopback
    }
    log = open(home / "server.log", "wb")  # noqa: SIM115 (the server's whole life)
    server = subprocess.Popen([str(Path(sys.executable).parent / "biotracker"), "serve", "--host", "127.0.0.1",
                               "--port", str(port), "--workers", str(workers)], env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            if httpx.get(f"{base}/api/v1/health").status_code == 200:
                return server, base
        except httpx.TransportError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start; see {home / 'server.log'}") from None
            time.sleep(0.2)


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def cpu_seconds(server_pid: int, database_port: int | None) -> dict[str, float]:
    """CPU time used so far by the server's processes and by the PostgreSQL server on ``database_port``
    (its postmaster and backends): what a request costs, whatever else the machine runs."""
    import psutil

    def tree(root: psutil.Process) -> float:
        total = 0.0
        for proc in [root, *root.children(recursive=True)]:
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                continue
        return total

    out = {"server": tree(psutil.Process(server_pid)), "database": 0.0}
    if database_port is not None:
        for proc in psutil.process_iter(["name", "cmdline"]):
            cmdline = proc.info["cmdline"] or []
            if proc.info["name"] == "postgres" and f"-p {database_port}" in " ".join(cmdline):
                out["database"] += tree(proc)
    return out


def quantiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) == 1:
        return values[0], values[0], values[0]
    q = statistics.quantiles(values, n=100, method="inclusive")
    return q[49], q[94], q[98]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--alerts", type=int, default=100_000, help="alerts over all scopes")
    parser.add_argument("--analysts", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--think", type=float, nargs=2, default=(0.5, 2.0), metavar=("MIN", "MAX"),
                        help="seconds between a simulated user's steps, drawn uniformly")
    parser.add_argument("--warmup", type=float, default=10,
                        help="seconds of load before measuring (new connections, cold caches): not counted")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--pages", action="store_true",
                        help="analysts browse the workbench (login, queue, alert and incident pages) instead of the API")
    parser.add_argument("--database-url", help="an empty database, or one holding a demo run")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON on the last line")
    args = parser.parse_args()

    cluster = None
    if args.database_url is None:
        from tests import pg_cluster

        cluster = pg_cluster.start_cluster()
        args.database_url = pg_cluster.create_database(cluster, "bt_bench")
    home = Path(tempfile.mkdtemp(prefix="bt-bench-serve-"))
    server = None
    try:
        store = build_store(args.database_url, home, args.reports, args.alerts)
        readers, writers = make_people(args.database_url, home, args.analysts)
        report_ids, countries = samples(args.database_url, home)
        server, url = start_server(args.database_url, home, args.workers)
        import httpx

        incidents_route = "/api/v1/incidents/{incident_id}" in httpx.get(f"{url}/api/openapi.json").json()["paths"]
        from sqlalchemy.engine import make_url

        db_port = make_url(args.database_url).port
        load_before = load_average()
        state: dict[str, Any] = {}

        async def run() -> Tally:
            async def mark() -> None:  # CPU and wall clock from the end of the warm-up
                await asyncio.sleep(args.warmup)
                state["cpu"], state["started"] = cpu_seconds(server.pid, db_port), time.perf_counter()

            marker = asyncio.create_task(mark())
            result = await drive(url, readers, writers, report_ids, countries, args.seconds,
                                 tuple(args.think), args.seed, incidents_route, args.warmup,  # type: ignore[arg-type]
                                 [f"analyst{i}" for i in range(args.analysts)] if args.pages else None)
            await marker
            return result

        tally = asyncio.run(run())
        wall = time.perf_counter() - state["started"]
        cpu_before = state["cpu"]
        load_after, cpu_after = load_average(), cpu_seconds(server.pid, db_port)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if cluster is not None:
            from tests import pg_cluster

            pg_cluster.stop_cluster(cluster)
    total = sum(len(v) for v in tally.timings.values())
    kinds: dict[str, dict[str, float]] = {}
    for kind in sorted(set(tally.timings) | set(tally.errors)):
        values = tally.timings.get(kind) or [math.nan]
        p50, p95, p99 = quantiles(values)
        kinds[kind] = {"count": len(tally.timings.get(kind, [])), "errors": tally.errors.get(kind, 0),
                       "p50_ms": round(p50, 1), "p95_ms": round(p95, 1), "p99_ms": round(p99, 1),
                       "per_s": round(len(tally.timings.get(kind, [])) / wall, 2),
                       "server_p95_ms": round(quantiles(tally.server_ms[kind])[1], 1) if tally.server_ms.get(kind) else None}
    print(f"\nstore: {', '.join(f'{v:,} {k}' for k, v in store.counts.items())}")
    print(f"alerts by scope: {', '.join(f'{k} {v:,}' for k, v in store.alerts_by_scope.items())}")
    print(f"{args.analysts} analysts + {len(writers)} contributors, think time {args.think[0]:g}-{args.think[1]:g} s "
          f"(uniform) between steps, {args.workers} server workers, {args.warmup:g} s warm-up ({tally.warmup} requests, "
          f"not counted), then {wall:.0f} s measured: {total:,} requests, "
          f"{total / wall:.1f} requests/s; incidents route: {'yes' if incidents_route else 'absent'}")
    print(f"load average (1/5/15 min) before {'/'.join(f'{x:.2f}' for x in load_before)}, "
          f"after {'/'.join(f'{x:.2f}' for x in load_after)} on {os.cpu_count()} cores")
    cpu = {k: cpu_after[k] - cpu_before[k] for k in cpu_before}
    per_request_ms = 1000 * sum(cpu.values()) / max(total, 1)
    print(f"CPU used during the run: server {cpu['server']:.1f} s, PostgreSQL {cpu['database']:.1f} s = "
          f"{per_request_ms:.1f} ms per request; {os.cpu_count()} dedicated cores would serve about "
          f"{1000 * (os.cpu_count() or 1) / max(per_request_ms, 0.001):.0f} requests/s at that cost "
          f"(this run offered {total / wall:.1f})")
    print(f"{'request':24} {'count':>7} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'per s':>7} "
          f"{'server p95':>10}")
    for kind, k in kinds.items():
        own = "" if k["server_p95_ms"] is None else f"{k['server_p95_ms']:10.0f}"
        print(f"{kind:24} {k['count']:7} {k['errors']:6} {k['p50_ms']:8.0f} {k['p95_ms']:8.0f} "
              f"{k['p99_ms']:8.0f} {k['per_s']:7.1f} {own}")
    for kind, example in tally.examples.items():
        print(f"first error of {kind}: {example}")
    if args.json:
        print(json.dumps({
            "store": store.counts, "scopes": store.scopes, "alerts_by_scope": store.alerts_by_scope, "build_s": round(store.build_s, 1),
            "demo_s": round(store.demo_s, 1), "analysts": args.analysts, "contributors": len(writers),
            "think_s": list(args.think), "workers": args.workers, "warmup_s": args.warmup,
            "warmup_requests": tally.warmup, "seconds": round(wall, 1),
            "requests": total, "incidents_route": incidents_route, "pages": args.pages,
            "load_before": load_before, "load_after": load_after, "cpu_s": cpu,
            "cpu_ms_per_request": round(per_request_ms, 2), "kinds": kinds,
        }))


if __name__ == "__main__":
    main()
