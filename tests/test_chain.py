"""The chain, defined once (biotracker/chain.py): the order of the stages and how windows pass on.

Specification: the stages run in the documented order; on the recordings the windows come from the
data (the digest day is the Monday after the newest report, the scored weeks end there), so a run
triggered with any fetch window that covers the recordings scores what the demo scores; on a live
hourly window the day is the run's own day and the scored weeks start with the reports the window
may have brought; windows survive the trip through an asset event and several events merge.
"""

from __future__ import annotations

import datetime as dt

import pytest

from biotracker import chain, tasks
from biotracker.db.engine import make_engine
from biotracker.errors import ConfigError
from biotracker.schema import Window, as_utc


def test_the_stages_run_in_the_documented_order():
    assert [s.value for s in chain.STAGES] == [
        "fetch_to_raw", "normalise_reports", "build_incidents", "score_window", "assess_incidents",
        "derive_alerts", "rank_alerts", "publish_digest",
    ]


def test_on_the_recordings_the_windows_come_from_the_data_not_the_clock(demo_store):
    settings, demo = demo_store
    engine = make_engine(settings)
    for end in ("2025-03-01", "2030-01-01"):  # any fetch window covering the recordings
        windows = chain.plan_windows(engine, Window.parse("2000-01-01", end))
        assert windows.day == demo.digest.day
        assert windows.scored == Window(as_utc(demo.digest.day) - dt.timedelta(weeks=chain.MAX_SCORED_WEEKS),
                                        as_utc(demo.digest.day))
        assert windows.reports.start == as_utc("2000-01-01") - chain.LATE_REPORTS


def test_a_live_hourly_window_scores_from_the_week_its_reports_may_belong_to(demo_store):
    engine = make_engine(demo_store[0])
    newest = chain.latest_week_end(engine)
    hour = Window(as_utc(newest) - dt.timedelta(days=2, hours=1), as_utc(newest) - dt.timedelta(days=2))
    windows = chain.plan_windows(engine, hour)
    assert windows.day == hour.end.date(), "the day never runs ahead of the fetch window"
    assert windows.reports == Window(hour.start - chain.LATE_REPORTS, hour.end)
    assert windows.scored is not None and windows.scored.end == as_utc(windows.day)
    assert windows.scored.start.weekday() == 0 and windows.scored.start <= windows.reports.start


def test_windows_travel_in_asset_events_and_several_events_merge(demo_store):
    engine = make_engine(demo_store[0])
    early = chain.plan_windows(engine, Window.parse("2024-01-01", "2024-01-02"))
    late = chain.plan_windows(engine, Window.parse("2024-06-01", "2024-06-02"))
    assert chain.ChainWindows.from_extra(early.as_extra()) == early
    merged = chain.ChainWindows.from_extras([late.as_extra(), early.as_extra()])
    assert merged.fetch == Window(early.fetch.start, late.fetch.end)
    assert merged.day == late.day and merged.reports == Window(early.reports.start, late.reports.end)
    with pytest.raises(ConfigError, match="windows"):
        chain.ChainWindows.from_extra({"fetch_start": "2024-01-01"})
    with pytest.raises(ConfigError, match="ingest_feeds"):
        chain.fetch_windows([{}])


def test_a_run_window_comes_from_params_the_data_interval_or_when_the_run_was_due():
    due = dt.datetime(2026, 3, 2, 5, tzinfo=dt.UTC)
    assert tasks.resolve_window({"start": "2026-01-01", "end": "2026-02-01"}, None, None, due) == Window.parse(
        "2026-01-01", "2026-02-01")
    interval = (due - dt.timedelta(hours=1), due)
    assert tasks.resolve_window(None, *interval, None) == Window(*interval)
    assert tasks.resolve_window(None, None, None, due) == Window(due - dt.timedelta(days=1), due)
    with pytest.raises(ValueError, match="params.start"):
        tasks.resolve_window(None, None, None, None)
