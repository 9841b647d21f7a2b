"""Incremental equals rebuild: the chain run day by day gives, table by table, what one full rebuild gives.

The demo's reports (every recorded feed, police intake included, so several visibility scopes) are
put into a fresh store the way they arrive: everything before the last days at once, then one
publication day at a time, each day's reports handed to ``refresh_derived`` as the changed set.
Another fresh store gets all reports and one ``refresh_derived(full=True)`` (``biotracker
rebuild``). Every derived table must then hold the same rows, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from biotracker.alerts.refresh import refresh_derived
from biotracker.config import load_settings
from biotracker.db.engine import make_engine, open_store
from biotracker.db.tables import (
    alerts,
    country_months,
    incident_assessments,
    incident_reports,
    incidents,
    reports,
    series_counts,
    signals,
)
from biotracker.db.upsert import upsert
from biotracker.pipeline import latest_week_end
from biotracker.schema import Window, as_utc

DERIVED = (incidents, incident_reports, series_counts, country_months, incident_assessments, signals, alerts)
#: publication days replayed one at a time after the initial batch
DAYS = 8


def _snapshot(engine) -> dict[str, list[tuple]]:
    out = {}
    with engine.connect() as conn:
        for table in DERIVED:
            rows = conn.execute(select(*table.columns)).all()
            out[table.name] = sorted(tuple(json.dumps(v, sort_keys=True, default=str) for v in row) for row in rows)
    return out


def _fresh(database_url: str, tmp_path, name: str):
    if database_url.startswith("sqlite"):
        database_url = f"sqlite:///{tmp_path / f'{name}.db'}"
    engine = open_store(load_settings({}, home=str(tmp_path / name), database_url=database_url))
    with engine.begin() as conn:
        for table in (*reversed(DERIVED), reports):
            conn.execute(table.delete())
    return engine


def test_day_by_day_runs_equal_one_rebuild(demo_store, database_url, tmp_path):
    settings, _ = demo_store
    demo = make_engine(settings)
    with demo.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(reports)).mappings()]
    day = latest_week_end(demo)
    scored = Window(as_utc(day) - dt.timedelta(weeks=104), as_utc(day))
    models = tmp_path / "no-models"  # rule ranking: no model to depend on

    def published(row: dict) -> dt.date:
        return as_utc(row["published_at"]).date() if row["published_at"] else dt.date.max

    days = sorted({published(r) for r in rows})
    cut = days[-DAYS]
    batches = [[r for r in rows if published(r) < cut]]
    batches += [[r for r in rows if published(r) == d] for d in days[-DAYS:]]
    assert sum(map(len, batches)) == len(rows) and all(batches)

    incremental = _fresh(database_url, tmp_path, "incremental")
    windowed = 0
    for batch in batches:
        with incremental.begin() as conn:
            upsert(conn, reports, batch)
        runs = refresh_derived(incremental, scored, models, report_ids=[r["report_id"] for r in batch])
        windowed += sum(not run.full for run in runs)
    rebuilt = _fresh(database_url, tmp_path, "rebuilt")
    with rebuilt.begin() as conn:
        upsert(conn, reports, rows)
    scopes = refresh_derived(rebuilt, scored, models, full=True)

    assert windowed >= DAYS, "the later days ran incrementally, not as rebuilds"
    assert len(scopes) >= 2, "the recordings hold restricted reports: more than the public scope is derived"
    got, want = _snapshot(incremental), _snapshot(rebuilt)
    print(f"\n{len(batches)} batches, {len(rows)} reports, scopes {[s.scope.key for s in scopes]}: "
          + ", ".join(f"{t} {len(want[t])} rows" for t in want))
    for table in want:
        missing = sorted(set(want[table]) - set(got[table]))[:3]
        extra = sorted(set(got[table]) - set(want[table]))[:3]
        assert got[table] == want[table], f"{table}: missing {missing}, extra {extra}"


@pytest.mark.parametrize("kind", ["late report"])
def test_a_late_report_reaches_the_weeks_it_belongs_to(demo_store, tmp_path, kind):
    """A report published today about an event weeks ago changes that week's series and alerts."""
    settings, _ = demo_store
    demo = make_engine(settings)
    with demo.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(reports)).mappings()]
    day = latest_week_end(demo)
    scored = Window(as_utc(day) - dt.timedelta(weeks=104), as_utc(day))
    engine = _fresh("sqlite", tmp_path, "late")
    with engine.begin() as conn:
        upsert(conn, reports, rows)
    refresh_derived(engine, scored, tmp_path / "none", full=True)
    public = [r for r in rows if r["tlp"] == "CLEAR" and r["disease"] and r["country_iso3"] and r["observed_at"]]
    model = max(public, key=lambda r: as_utc(r["observed_at"]))
    late = model | {"report_id": "promed:late-1", "source": "promed", "source_id": "late-1",
                    "url": "https://late.example/1", "title": f"late word of {model['disease']}",
                    "summary": "", "text": "", "published_at": as_utc(day) - dt.timedelta(hours=1)}
    with engine.begin() as conn:
        upsert(conn, reports, [late])
    runs = refresh_derived(engine, scored, tmp_path / "none", report_ids=["promed:late-1"])
    touched = {w for run in runs for k, w in run.incidents.changes.series_weeks}
    assert touched and min(touched) <= as_utc(model["observed_at"]).date()
    with engine.connect() as conn:
        linked = conn.execute(
            select(incident_reports.c.scope, incident_reports.c.period_start)
            .where(incident_reports.c.report_id == "promed:late-1")
        ).all()
    assert linked and all(week <= as_utc(model["observed_at"]).date() for _, week in linked)


def test_rebuild_command_recomputes_the_same_tables(demo_copy):
    """``biotracker rebuild`` over the demo's alert window leaves every derived table as the demo made it."""
    from typer.testing import CliRunner

    from biotracker.cli.main import app

    engine = make_engine(demo_copy)
    day = latest_week_end(engine)
    before = _snapshot(engine)
    env = {"BIOTRACKER_HOME": str(demo_copy.home), "BIOTRACKER_DATABASE_URL": demo_copy.resolved_database_url}
    start = (day - dt.timedelta(weeks=104)).isoformat()
    done = CliRunner().invoke(app, ["rebuild", "--start", start, "--end", day.isoformat(), "--json"], env=env)
    assert done.exit_code == 0, done.output
    scopes = json.loads(done.output)
    assert {s["scope"] for s in scopes} >= {"tlp:clear"} and all(s["full"] for s in scopes)
    assert _snapshot(engine) == before
