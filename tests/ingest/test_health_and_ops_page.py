"""Source health: last success/failure, freshness, "silent" after 3x cadence, the escaped ops page."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from biotracker.config import BUNDLED_RECORDINGS, Settings
from biotracker.db.engine import open_store
from biotracker.errors import FatalFetchError
from biotracker.ingest.health import source_statuses
from biotracker.ingest.ops_page import render_ops_page, write_ops_page
from biotracker.ingest.replay import Interaction, ReplayServer, load_cassette
from biotracker.ingest.run import fetch_to_raw
from biotracker.schema import UTC, Window
from biotracker.testing.transport import replay_client

T0 = dt.datetime(2024, 9, 3, 12, tzinfo=UTC)
WINDOW = Window(dt.datetime(2024, 1, 1, tzinfo=UTC), dt.datetime(2025, 1, 1, tzinfo=UTC))


@pytest.fixture
def store(tmp_path: Path):
    settings = Settings(home=tmp_path, replay_dir=BUNDLED_RECORDINGS, http_retries=0)
    return settings, open_store(settings)


def fetch(settings, engine, source: str, at: dt.datetime, interactions=None) -> None:
    with ReplayServer(interactions or load_cassette(BUNDLED_RECORDINGS / source)[1]) as server:
        with replay_client(settings, server) as client:
            fetch_to_raw(source, WINDOW, settings, engine, client, lambda: at)


def by_source(engine, at):
    return {s.source: s for s in source_statuses(engine, at)}


def test_fresh_source_is_ok_and_goes_silent_after_three_cadences(store) -> None:
    settings, engine = store
    fetch(settings, engine, "ecdc", T0)  # @daily
    assert by_source(engine, T0 + dt.timedelta(hours=2))["ecdc"].state == "ok"
    assert by_source(engine, T0 + dt.timedelta(days=2, hours=23))["ecdc"].state == "ok"
    # the same bytes fetched again later do not count as yielding something new
    fetch(settings, engine, "ecdc", T0 + dt.timedelta(days=2))
    late = by_source(engine, T0 + dt.timedelta(days=3, hours=1))["ecdc"]
    assert late.state == "silent" and late.silent
    assert late.freshness == dt.timedelta(days=3, hours=1)
    assert late.last_success_at == T0 + dt.timedelta(days=2)


def test_hourly_source_goes_silent_sooner(store) -> None:
    settings, engine = store
    fetch(settings, engine, "cidrap", T0)  # @hourly
    assert by_source(engine, T0 + dt.timedelta(hours=2, minutes=59))["cidrap"].state == "ok"
    assert by_source(engine, T0 + dt.timedelta(hours=3, minutes=1))["cidrap"].state == "silent"


def test_failure_is_shown_with_its_reason_until_the_next_success(store) -> None:
    settings, engine = store
    fetch(settings, engine, "ecdc", T0)
    url = load_cassette(BUNDLED_RECORDINGS / "ecdc")[1][0].url
    with pytest.raises(FatalFetchError):
        fetch(settings, engine, "ecdc", T0 + dt.timedelta(hours=1), [Interaction(url=url, status=401)])
    failing = by_source(engine, T0 + dt.timedelta(hours=2))["ecdc"]
    assert failing.state == "failing" and "HTTP 401" in failing.last_error and failing.failures == 1
    fetch(settings, engine, "ecdc", T0 + dt.timedelta(hours=3))
    assert by_source(engine, T0 + dt.timedelta(hours=4))["ecdc"].state == "ok"


def test_never_fetched_sources_are_listed(store) -> None:
    _, engine = store
    statuses = by_source(engine, T0)
    assert statuses["who_don"].state == "never fetched"
    assert len(statuses) >= 12


def test_ops_page_escapes_what_remote_services_sent(store) -> None:
    settings, engine = store
    url = load_cassette(BUNDLED_RECORDINGS / "ecdc")[1][0].url
    evil = '<script>alert("x")</script>'
    bad_url = url + "?" + evil.replace(" ", "")
    with pytest.raises(FatalFetchError):
        with ReplayServer([]) as server, replay_client(settings, server) as client:
            client.get(bad_url)
    from biotracker.ingest.run import _record_health

    _record_health(engine, "ecdc", T0, error=f"FatalFetchError: {bad_url} answered HTTP 404 {evil}")
    page = render_ops_page(engine, T0 + dt.timedelta(hours=1))
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    path = write_ops_page(engine, settings, T0)
    assert path == settings.out_dir / "ops.html" and "Source health" in path.read_text()
