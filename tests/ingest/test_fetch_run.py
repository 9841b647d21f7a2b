"""fetch_to_raw and the HTTP layer: idempotent re-runs (also after a kill half-way), conditional GET,
Retry-After, back-off with jitter, per-host rate limit, User-Agent, status mapping."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from biotracker.config import BUNDLED_RECORDINGS, Settings
from biotracker.db.engine import open_store, row_counts
from biotracker.db.tables import raw_payloads, reports, source_health
from biotracker.errors import FatalFetchError, RetryableFetchError
from biotracker.ingest.http import HttpClient, classify_status
from biotracker.ingest.replay import Interaction, ReplayServer, load_cassette
from biotracker.ingest.run import fetch_to_raw
from biotracker.normalise.run import normalise_pending
from biotracker.schema import UTC, Window
from biotracker.testing.transport import mock_client, replay_client

WINDOW = Window(dt.datetime(2024, 1, 1, tzinfo=UTC), dt.datetime(2025, 1, 1, tzinfo=UTC))
AT = dt.datetime(2024, 11, 1, 12, tzinfo=UTC)


def settings_for(home: Path) -> Settings:
    return Settings(home=home, replay_dir=BUNDLED_RECORDINGS, http_retries=0)


class Killed(BaseException):
    """Stands in for SIGKILL: not an Exception, so nothing in the stage can catch and tidy up."""


class DiesOnPage:
    def __init__(self, client: HttpClient, page: int) -> None:
        self.client, self.page, self.calls = client, page, 0

    def get(self, url: str, **kwargs):
        self.calls += 1
        if self.calls == self.page:
            raise Killed()
        return self.client.get(url, **kwargs)


def counts(engine) -> dict[str, int]:
    return {k: v for k, v in row_counts(engine).items() if k in {"raw_payloads", "reports", "quarantine"}}


def test_killed_half_way_then_rerun_stores_no_duplicates(tmp_path: Path) -> None:
    interactions = load_cassette(BUNDLED_RECORDINGS / "who_don")[1] + load_cassette(BUNDLED_RECORDINGS / "ecdc")[1]
    clean = settings_for(tmp_path / "clean")
    killed = settings_for(tmp_path / "killed")
    with ReplayServer(interactions) as server:
        with replay_client(clean, server) as client:
            clean_engine = open_store(clean)
            for source in ("who_don", "ecdc"):
                fetch_to_raw(source, WINDOW, clean, clean_engine, client, lambda: AT)
            normalise_pending(clean, clean_engine)

            engine = open_store(killed)
            with pytest.raises(Killed):
                fetch_to_raw("who_don", WINDOW, killed, engine, DiesOnPage(client, 2), lambda: AT)
            normalise_pending(killed, engine)  # the first page was archived and normalised
            halfway = counts(engine)
            assert halfway["raw_payloads"] == 1 and halfway["reports"] == 50
            for _ in range(2):  # the re-run, and one more for good measure
                for source in ("who_don", "ecdc"):
                    fetch_to_raw(source, WINDOW, killed, engine, client, lambda: AT)
                normalise_pending(killed, engine)
    assert counts(engine) == counts(clean_engine)
    with engine.connect() as conn:
        assert conn.execute(select(func.count(func.distinct(reports.c.report_id)))).scalar_one() == \
            conn.execute(select(func.count()).select_from(reports)).scalar_one()
    leftovers = [p for p in (tmp_path / "killed" / "raw").rglob(".tmp-*")]
    assert leftovers == []


def test_conditional_get_sends_validators_and_a_304_stores_nothing(tmp_path: Path) -> None:
    url = "https://feeds.example.org/ecdc.xml"
    body = (BUNDLED_RECORDINGS / "ecdc" / "feed.xml").read_bytes()
    seen: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.headers))
        if request.headers.get("If-None-Match") == '"v1"':
            return httpx.Response(304)
        return httpx.Response(200, content=body, headers={"ETag": '"v1"', "Last-Modified": "Thu, 10 Dec 2020 13:00:00 GMT"})

    settings = Settings(home=tmp_path, http_retries=0)
    engine = open_store(settings)
    from biotracker.ingest import registry

    class Ecdc(registry.connector_classes()["ecdc"]):
        extra_hosts = ("feeds.example.org",)

        def start_urls(self, window):
            return [url]

    with mock_client(settings, handler) as client, pytest.MonkeyPatch.context() as mp:
        mp.setattr("biotracker.ingest.run.get_connector", lambda name: Ecdc())
        first = fetch_to_raw("ecdc", WINDOW, settings, engine, client, lambda: AT)
        second = fetch_to_raw("ecdc", WINDOW, settings, engine, client, lambda: AT)
    assert (first.new_payloads, first.not_modified) == (1, 0)
    assert (second.pages, second.new_payloads, second.not_modified) == (0, 0, 1)
    assert "if-none-match" not in seen[0]
    assert seen[1]["if-none-match"] == '"v1"'
    assert seen[1]["if-modified-since"] == "Thu, 10 Dec 2020 13:00:00 GMT"
    assert seen[0]["user-agent"].startswith("Biotracker/")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(raw_payloads)).scalar_one() == 1


def test_replay_server_honours_recorded_etags(tmp_path: Path) -> None:
    url = "https://feeds.example.org/a.json"
    with ReplayServer([Interaction(url=url, body=b"{}", headers={"ETag": '"abc"'})]) as server:
        with replay_client(Settings(home=tmp_path), server) as client:
            assert client.get(url).status == 200
            assert client.get(url, etag='"abc"').not_modified
            assert client.get(url, etag='"old"').status == 200


def test_retry_after_is_honoured_on_429(tmp_path: Path) -> None:
    answers = iter([httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, content=b"ok")])
    slept: list[float] = []
    with HttpClient(Settings(home=tmp_path, http_retries=3), transport=httpx.MockTransport(lambda r: next(answers)),
                    min_interval_s=0.0, sleep=slept.append) as client:
        assert client.get("https://api.example.org/x").body == b"ok"
    assert slept == [7.0]


def test_backoff_is_exponential_with_jitter_and_gives_up_retryably(tmp_path: Path) -> None:
    slept: list[float] = []
    with HttpClient(Settings(home=tmp_path, http_retries=3), transport=httpx.MockTransport(lambda r: httpx.Response(503)),
                    min_interval_s=0.0, sleep=slept.append, jitter=lambda: 1.0, backoff_base_s=2.0) as client:
        with pytest.raises(RetryableFetchError, match="HTTP 503"):
            client.get("https://api.example.org/x")
    assert slept == [2.0, 4.0, 8.0]
    slept.clear()
    with HttpClient(Settings(home=tmp_path, http_retries=2), transport=httpx.MockTransport(lambda r: httpx.Response(502)),
                    min_interval_s=0.0, sleep=slept.append, jitter=lambda: 0.0, backoff_base_s=2.0) as client:
        with pytest.raises(RetryableFetchError):
            client.get("https://api.example.org/x")
    assert slept == [1.0, 2.0]  # jitter 0 halves the delay: 0.5 * 2^n * base


def test_requests_to_one_host_are_spaced_but_other_hosts_are_not(tmp_path: Path) -> None:
    slept: list[float] = []
    with HttpClient(Settings(home=tmp_path), transport=httpx.MockTransport(lambda r: httpx.Response(200)),
                    min_interval_s=5.0, sleep=slept.append) as client:
        client.get("https://a.example.org/1")
        client.get("https://b.example.org/1")
        client.get("https://a.example.org/2")
    assert len(slept) == 1 and 4.0 < slept[0] <= 5.0


@pytest.mark.parametrize(("status", "error"), [(429, RetryableFetchError), (500, RetryableFetchError),
                                               (503, RetryableFetchError), (401, FatalFetchError),
                                               (403, FatalFetchError), (404, FatalFetchError), (410, FatalFetchError)])
def test_one_place_maps_status_to_the_error_tree(status: int, error: type[Exception]) -> None:
    with pytest.raises(error, match=f"HTTP {status}"):
        classify_status(status, "https://x.example.org")


def test_timeouts_are_retryable(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with mock_client(Settings(home=tmp_path, http_retries=0), handler) as client:
        with pytest.raises(RetryableFetchError, match="timed out"):
            client.get("https://slow.example.org/")


def test_a_failing_source_is_recorded_and_does_not_block_the_others(tmp_path: Path) -> None:
    from biotracker.pipeline import ingest_sources

    settings = settings_for(tmp_path)
    engine = open_store(settings)
    cassette = BUNDLED_RECORDINGS / "gdacs"
    result = ingest_sources(settings, engine, WINDOW, ["gdacs", "ecdc"],
                            clock=lambda: AT)
    assert sorted(f.source for f in result.fetched) == ["ecdc", "gdacs"] and cassette.exists()
    with ReplayServer([]) as empty:  # every address answers 404
        with replay_client(settings, empty) as client:
            with pytest.raises(FatalFetchError):
                fetch_to_raw("cidrap", WINDOW, settings, engine, client, lambda: AT)
    with engine.connect() as conn:
        rows = {r["source"]: r for r in conn.execute(select(source_health)).mappings()}
    assert "HTTP 404" in rows["cidrap"]["last_error"] and rows["cidrap"]["failures"] == 1
    assert rows["gdacs"]["last_error"] is None


def test_search_apis_are_posted_their_window_and_never_made_conditional(tmp_path: Path) -> None:
    body = (BUNDLED_RECORDINGS / "woah_wahis" / "report-list.json").read_bytes()
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=body, headers={"ETag": '"same"', "Content-Type": "application/json"})

    settings = Settings(home=tmp_path, http_retries=0)
    engine = open_store(settings)
    with mock_client(settings, handler) as client:
        for _ in range(2):
            fetch_to_raw("woah_wahis", WINDOW, settings, engine, client, lambda: AT)
    assert [r.method for r in seen] == ["POST", "POST"]
    import json

    sent = json.loads(seen[0].content)
    assert sent["reportFilters"]["reportDate"] == {"startDate": "2024-01-01", "endDate": "2025-01-01"}
    assert "if-none-match" not in seen[1].headers
