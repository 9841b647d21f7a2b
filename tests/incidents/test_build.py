"""The incidents stage on a real store (SQLite and PostgreSQL): idempotent, incremental, reversible."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import delete, func, select
from typer.testing import CliRunner

from biotracker.cli.main import app
from biotracker.config import load_settings
from biotracker.db.engine import make_engine, migrate
from biotracker.db.tables import incident_overrides, incident_reports, incidents, reports
from biotracker.db.upsert import upsert
from biotracker.incidents.build import (
    build_every_scope,
    build_incidents,
    detach_report,
    merge_reports,
    reattach_report,
    unmerge_report,
)
from biotracker.schema import Window


def store(url: str, tmp_path, rows: list[dict]):
    engine = make_engine(load_settings({}, home=str(tmp_path), database_url=url))
    migrate(engine)
    with engine.begin() as conn:
        upsert(conn, reports, rows)
    return engine


def tables(engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {t.name: sorted(tuple(str(v) for v in r) for r in conn.execute(select(t)))
                for t in (incidents, incident_reports)}


def relay_of(row: dict, source: str, days: int) -> dict:
    """An aggregator item pointing at the same document a day or two later (the usual duplicate)."""
    return row | {"report_id": f"{source}:{row['source_id']}", "source": source,
                  "title": row["title"] + " - News",
                  "published_at": row["published_at"] + dt.timedelta(days=days),
                  "observed_at": None, "country_iso3": None, "tlp": "GREEN", "evidence": {}}


def test_building_twice_gives_identical_incidents(database_url, tmp_path, real_report_rows):
    don = next(r for r in real_report_rows if r["report_id"] == "who_don:2024-DON536")
    rows = [*real_report_rows, relay_of(don, "google_news", 1)]
    engine = store(database_url, tmp_path, rows)
    first = build_incidents(engine)
    snapshot = tables(engine)
    second = build_incidents(engine)
    assert tables(engine) == snapshot
    unchanged = {k: v for k, v in second.summary().items() if k != "changes"}
    assert {k: v for k, v in first.summary().items() if k != "changes"} == unchanged | {"removed": first.removed}
    assert not second.changes.report_ids and not second.changes.incident_ids, "a re-run changes nothing"
    assert second.removed == 0 and first.reports == len(rows)
    assert first.incidents < first.reports and first.duplicates >= 1
    with engine.connect() as conn:
        linked = conn.execute(select(func.count(func.distinct(incident_reports.c.report_id)))).scalar_one()
        relay_id = "google_news:2024-DON536"
        relay = conn.execute(select(incident_reports)
                             .where(incident_reports.c.report_id == relay_id)).mappings().one()
        inc = conn.execute(select(incidents)
                           .where(incidents.c.incident_id == relay["incident_id"])).mappings().one()
    assert linked == len(rows)  # every report in exactly one incident
    assert relay["link"] == "same_url" and relay["duplicate_of"] == "who_don:2024-DON536"
    assert inc["report_count"] >= 2 and inc["corroboration"] == 1 and inc["tlp"] == "GREEN"
    assert inc["title"] == don["title"]  # from the official report, not the relay


def test_a_new_report_updates_its_incident_instead_of_adding_one(database_url, tmp_path, real_report_rows):
    hpai = sorted((r for r in real_report_rows if r["source"] == "hpai_outbreaks" and r["country_iso3"]),
                  key=lambda r: (r["published_at"], r["report_id"]))
    # the latest outbreak with an earlier one of the same agent and country less than a week before it
    late, earlier = next((b, a) for b in reversed(hpai) for a in hpai
                         if a is not b and a["pathogen"] == b["pathogen"]
                         and a["country_iso3"] == b["country_iso3"]
                         and dt.timedelta(0) <= b["published_at"] - a["published_at"] < dt.timedelta(days=7))
    engine = store(database_url, tmp_path, [r for r in hpai if r is not late])
    build_incidents(engine)

    def incident_of(report_id: str):
        with engine.connect() as conn:
            return conn.execute(select(incidents).join(incident_reports)
                                .where(incident_reports.c.report_id == report_id)).mappings().one()

    def count() -> int:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(incidents)).scalar_one()

    before, n = incident_of(earlier["report_id"]), count()
    with engine.begin() as conn:
        upsert(conn, reports, [late])
    at = late["published_at"]
    summary = build_incidents(engine, Window(at, at + dt.timedelta(seconds=1)))
    after = incident_of(late["report_id"])
    assert after["incident_id"] == before["incident_id"] and count() == n
    assert after["report_count"] == before["report_count"] + 1 and summary.removed == 0
    incremental = tables(engine)
    build_incidents(engine)
    assert tables(engine) == incremental  # the windowed run agrees with a full rebuild


def test_windowed_builds_in_time_order_agree_with_one_full_build(database_url, tmp_path, real_report_rows):
    engine = store(database_url, tmp_path, real_report_rows)
    times = sorted(r["published_at"] for r in real_report_rows)
    edges = [times[0], times[len(times) // 3], times[2 * len(times) // 3], times[-1] + dt.timedelta(days=1)]
    with engine.begin() as conn:
        conn.execute(delete(reports))
    for start, end in zip(edges, edges[1:]):
        with engine.begin() as conn:
            upsert(conn, reports, [r for r in real_report_rows if start <= r["published_at"] < end])
        build_incidents(engine, Window(start, end))
    windowed = tables(engine)
    build_incidents(engine)
    assert tables(engine) == windowed


def test_detaching_a_report_is_respected_by_reruns_and_undone_by_reattaching(database_url, tmp_path,
                                                                              real_report_rows):
    engine = store(database_url, tmp_path, real_report_rows)
    build_incidents(engine)
    original = tables(engine)
    with engine.connect() as conn:
        member = conn.execute(select(incident_reports.c.report_id, incident_reports.c.incident_id)
                              .where(incident_reports.c.link == "same_event")
                              .order_by(incident_reports.c.report_id)).first()
    detach_report(engine, member.report_id, "different farm cluster")
    summary = build_incidents(engine)
    build_incidents(engine)
    with engine.connect() as conn:
        now = conn.execute(select(incident_reports).where(incident_reports.c.report_id == member.report_id)
                           ).mappings().one()
        kept = conn.execute(select(func.count()).select_from(incident_overrides)).scalar_one()
    assert summary.detached == 1 and kept == 1
    assert now["link"] == "detached" and now["incident_id"] != member.incident_id
    assert reattach_report(engine, member.report_id)
    build_incidents(engine)
    assert tables(engine) == original


def test_merged_incidents_stay_merged_in_incremental_runs_and_rebuilds_until_unmerged(database_url, tmp_path,
                                                                                        real_report_rows):
    engine = store(database_url, tmp_path, real_report_rows)
    build_incidents(engine)
    original = tables(engine)
    with engine.connect() as conn:
        first, second = conn.execute(select(incidents.c.incident_id).order_by(incidents.c.incident_id).limit(2)
                                     ).scalars().all()
        members = {i: conn.execute(select(incident_reports.c.report_id).where(incident_reports.c.incident_id == i)
                                   .order_by(incident_reports.c.report_id)).scalars().all() for i in (first, second)}
    named = members[first] + members[second]
    merge_reports(engine, members[first][0], members[second][0], "the same farm")
    build_incidents(engine, report_ids=named)
    incremental = tables(engine)
    build_incidents(engine)
    assert tables(engine) == incremental, "an incremental run merges exactly as a rebuild does"
    with engine.connect() as conn:
        rows = conn.execute(select(incident_reports).where(incident_reports.c.report_id.in_(named))).mappings().all()
    assert len({r["incident_id"] for r in rows}) == 1
    assert [r["link"] for r in rows].count("merged") == 1
    assert unmerge_report(engine, members[second][0]) and not unmerge_report(engine, members[second][0])
    build_incidents(engine, report_ids=named)
    assert tables(engine) == original


def test_cli_split_show_and_join(tmp_path, real_report_rows):
    url = f"sqlite:///{tmp_path / 'bt.db'}"
    engine = store(url, tmp_path, real_report_rows)
    (scope,) = build_every_scope(engine)  # the recordings' reports are all public: one scope
    in_scope = incident_reports.c.scope == scope
    with engine.connect() as conn:
        member = conn.execute(select(incident_reports.c.report_id, incident_reports.c.incident_id)
                              .where(incident_reports.c.link == "same_event", in_scope)
                              .order_by(incident_reports.c.report_id)).first()
    env = {"BIOTRACKER_HOME": str(tmp_path), "BIOTRACKER_DATABASE_URL": url}
    runner = CliRunner()
    shown = runner.invoke(app, ["incidents", "show", member.incident_id, "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    document = json.loads(shown.output)
    assert document["incident"]["incident_id"] == member.incident_id
    why = {m["report_id"]: m["reason"] for m in document["reports"]}
    assert why[member.report_id].startswith("same agent")
    wrong = runner.invoke(app, ["incidents", "split", "inc-nothing", member.report_id], env=env)
    assert wrong.exit_code == 1 and "not in incident" in wrong.output
    split = runner.invoke(app, ["incidents", "split", member.incident_id, member.report_id, "--note", "t"],
                          env=env)
    assert split.exit_code == 0, split.output
    where = (incident_reports.c.report_id == member.report_id) & in_scope
    with engine.connect() as conn:
        assert conn.execute(select(incident_reports.c.link).where(where)).scalar_one() == "detached"
    joined = runner.invoke(app, ["incidents", "join", member.report_id], env=env)
    assert joined.exit_code == 0, joined.output
    with engine.connect() as conn:
        now_in = conn.execute(select(incident_reports.c.incident_id).where(where)).scalar_one()
    assert now_in == member.incident_id
    assert runner.invoke(app, ["incidents", "join", member.report_id], env=env).exit_code == 1


@pytest.mark.parametrize("bad", ["no-such-report"])
def test_detaching_an_unknown_report_says_so(tmp_path, bad):
    engine = store(f"sqlite:///{tmp_path / 'bt.db'}", tmp_path, [])
    with pytest.raises(KeyError):
        detach_report(engine, bad)


def _scope_rows(engine, scope: str) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {t.name: sorted(tuple(str(v) for v in r) for r in conn.execute(select(t).where(t.c.scope == scope)))
                for t in (incidents, incident_reports)}


def test_a_report_re_marked_red_leaves_every_scope_not_cleared_for_it(database_url, tmp_path, real_report_rows):
    """Re-normalised as TLP:RED, a report disappears from the public incidents as if never seen, and
    the restricted scope that may see it now has incidents of its own."""
    don = next(r for r in real_report_rows if r["report_id"] == "who_don:2024-DON536")
    engine = store(database_url, tmp_path, real_report_rows)
    assert list(build_every_scope(engine)) == ["tlp:clear"]
    with engine.begin() as conn:
        upsert(conn, reports, [don | {"tlp": "RED"}])
    built = build_every_scope(engine, report_ids=[don["report_id"]])
    assert built["tlp:clear"].changes.report_ids == {don["report_id"]}
    assert built["tlp:red"].changes.full, "a scope seen for the first time is built in full"
    never = store(f"sqlite:///{tmp_path / 'never.db'}", tmp_path / "never",
                  [r for r in real_report_rows if r["report_id"] != don["report_id"]])
    build_every_scope(never)
    assert _scope_rows(engine, "tlp:clear") == _scope_rows(never, "tlp:clear")
    with engine.connect() as conn:
        seen = set(conn.execute(select(incident_reports.c.scope).where(
            incident_reports.c.report_id == don["report_id"])).scalars())
    assert seen == {"tlp:red"}


def test_changes_travel_as_json(tmp_path, real_report_rows):
    """What one stage changed survives a trip through an XCom or an asset event's extra."""
    from biotracker.incidents.changes import Changes

    engine = store(f"sqlite:///{tmp_path / 'bt.db'}", tmp_path, real_report_rows)
    changes = build_incidents(engine).changes
    assert changes.series_weeks and changes.count_weeks
    assert Changes.from_json(json.loads(json.dumps(changes.to_json()))) == changes


def test_a_report_that_bridges_two_incidents_changes_their_members_incident_but_not_their_counts(
    database_url, tmp_path, real_report_rows
):
    """Scoring and the lens's history read counts, so they follow ``count_weeks`` (the bridging
    report's week), not every week whose members moved to the merged incident (``series_weeks``)."""
    template = next(r for r in real_report_rows if r["source"] == "hpai_outbreaks" and r["country_iso3"])
    start = dt.datetime(2025, 3, 3, 12, tzinfo=dt.UTC)  # a Monday: each report in its own week

    def outbreak(n: int, days: int) -> dict:
        at = start + dt.timedelta(days=days)
        return template | {"report_id": f"hpai_outbreaks:bridge-{n}", "source_id": f"bridge-{n}", "url": None,
                           "title": f"Outbreak {n} of {template['title']}", "summary": f"farm {n}", "text": "",
                           "published_at": at, "observed_at": at}

    first, last, bridge = outbreak(1, 0), outbreak(2, 20), outbreak(3, 10)
    engine = store(database_url, tmp_path, [first, last])
    assert build_incidents(engine).incidents == 2, "20 days apart: beyond the 14-day gap"
    with engine.begin() as conn:
        upsert(conn, reports, [bridge])
    changes = build_incidents(engine, report_ids=[bridge["report_id"]]).changes
    with engine.connect() as conn:
        links = {r.report_id: r for r in conn.execute(select(incident_reports))}
    assert len({link.incident_id for link in links.values()}) == 1, "the bridge joins both into one incident"
    week = {rid: (link.series_key, link.period_start) for rid, link in links.items()}
    assert changes.count_weeks == {week[bridge["report_id"]]}
    assert changes.series_weeks == set(week.values())
    assert changes.report_ids == {bridge["report_id"], last["report_id"]}
