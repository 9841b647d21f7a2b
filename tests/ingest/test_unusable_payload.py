"""An HTML error page (or an empty body, plain text where JSON belongs, a PDF or a workbook) served
with status 200 as a feed's payload is archived (raw keeps everything) and quarantined, but the
fetch counts as a failure: the source shows as failing, never fresh."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from biotracker.config import BUNDLED_RECORDINGS, Settings
from biotracker.db.engine import open_store
from biotracker.db.tables import quarantine, raw_payloads
from biotracker.errors import FatalFetchError
from biotracker.ingest.health import source_statuses
from biotracker.ingest.registry import get_connector
from biotracker.ingest.replay import Interaction, ReplayServer, load_cassette
from biotracker.ingest.run import fetch_to_raw
from biotracker.normalise.run import normalise_pending
from biotracker.schema import UTC, Window
from biotracker.testing.transport import replay_client

WINDOW = Window(dt.datetime(2000, 1, 1, tzinfo=UTC), dt.datetime(2030, 1, 1, tzinfo=UTC))
PAGE = b"\n  <!DOCTYPE html><html><head><title>Maintenance</title></head><body>Back soon</body></html>"


@pytest.mark.parametrize(("source", "body", "problem"), [
    ("ecdc", PAGE, "an HTML page"), ("who_don", PAGE, "an HTML page"), ("promed", PAGE, "an HTML page"),
    ("ecdc", b"", "an empty body"), ("who_don", b"Service temporarily unavailable", "not JSON"),
    ("gdacs", b"OK", "not XML"), ("empres_i", b"%PDF-1.7\n%binary", "binary content"),
    ("usda_aphis", b"PK\x03\x04 an xlsx workbook", "binary content"),
])
def test_a_payload_that_cannot_be_the_feed_leaves_the_source_failing(
    tmp_path: Path, source: str, body: bytes, problem: str
) -> None:
    settings = Settings(home=tmp_path, http_retries=0)
    engine = open_store(settings)
    at = dt.datetime(2026, 1, 1, tzinfo=UTC)
    healthy = load_cassette(BUNDLED_RECORDINGS / source)[1]
    with ReplayServer(healthy) as srv, replay_client(settings, srv) as client:
        fetch_to_raw(source, WINDOW, settings, engine, client, lambda: at)
    assert {s.source: s.state for s in source_statuses(engine, at)}[source] == "ok"
    later = at + dt.timedelta(hours=2)
    pages = [Interaction(url=u, body=body, content_type="text/html; charset=utf-8")
             for u in get_connector(source).start_urls(WINDOW)]
    with ReplayServer(pages) as srv, replay_client(settings, srv) as client:
        with pytest.raises(FatalFetchError, match=f"served {problem}"):
            fetch_to_raw(source, WINDOW, settings, engine, client, lambda: later)
    status = {s.source: s for s in source_statuses(engine, later)}[source]
    assert status.state == "failing" and problem in status.last_error
    normalise_pending(settings, engine)
    with engine.connect() as conn:
        archived = conn.execute(select(raw_payloads.c.sha256).where(raw_payloads.c.fetched_at == later)).all()
        held = [r.reason for r in conn.execute(select(quarantine.c.reason))]
    assert len(archived) == 1  # one page, archived once whatever the number of start addresses
    assert any(r.startswith(f"payload is {problem}") for r in held)
