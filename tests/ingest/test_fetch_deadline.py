"""Every fetch ends by its deadline: a server that drips a byte a second (in its body or in its
headers) fails with a retryable error, and a Retry-After beyond the deadline is not waited for."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from biotracker.config import Settings
from biotracker.errors import RetryableFetchError
from biotracker.ingest.http import HttpClient, RewriteTransport
from biotracker.testing.transport import mock_client
from tests.ingest.local_servers import dripping_server

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\nX-Padding: abcdefghijklmnopqrstuvwxyz\r\n\r\n"


def _client(tmp_path: Path, base_url: str) -> HttpClient:
    settings = Settings(home=tmp_path, http_retries=0, http_deadline_s=2.0, http_timeout_s=30.0)
    return HttpClient(settings, transport=RewriteTransport(base_url), min_interval_s=0.0)


@pytest.mark.parametrize("drip", ["body", "headers"])
def test_a_server_dripping_one_byte_a_second_fails_at_the_deadline(tmp_path: Path, drip: str) -> None:
    body = b"x" * 4096 if drip == "body" else b""
    with dripping_server(HEAD, body, interval_s=1.0) as (url, sent):
        with _client(tmp_path, url) as client:
            with pytest.raises(RetryableFetchError, match="overall deadline 2s per fetch"):
                client.get("https://slow.example.org/feed.json")
        dripped = sent[0]
    assert dripped < 20  # the client gave up long before the server was done (4096 or 20 bytes)


def test_a_retry_after_beyond_the_deadline_is_not_waited_for(tmp_path: Path) -> None:
    slept: list[float] = []
    answers = iter([httpx.Response(503, headers={"Retry-After": "3600"}), httpx.Response(200, content=b"ok")])
    settings = Settings(home=tmp_path, http_retries=3, http_deadline_s=300.0)
    with HttpClient(settings, transport=httpx.MockTransport(lambda r: next(answers)), min_interval_s=0.0,
                    sleep=slept.append) as client:
        with pytest.raises(RetryableFetchError, match="waiting 3600s would pass this fetch's 300s deadline") as err:
            client.get("https://feeds.example.org/x")
    assert slept == [] and err.value.retry_after == 3600.0


def test_a_retry_after_within_the_deadline_is_honoured_in_full(tmp_path: Path) -> None:
    slept: list[float] = []
    answers = iter([httpx.Response(429, headers={"Retry-After": "90"}), httpx.Response(200, content=b"ok")])
    settings = Settings(home=tmp_path, http_retries=3, http_deadline_s=300.0)
    with HttpClient(settings, transport=httpx.MockTransport(lambda r: next(answers)), min_interval_s=0.0,
                    sleep=slept.append) as client:
        assert client.get("https://feeds.example.org/x").body == b"ok"
    assert slept == [90.0]


def test_the_deadline_is_a_setting_with_a_default() -> None:
    from biotracker.config import load_settings

    assert Settings().http_deadline_s == 300.0
    assert load_settings({"BIOTRACKER_HTTP_DEADLINE_S": "45"}).http_deadline_s == 45.0


def test_garbage_retry_after_values_fall_back_to_back_off(tmp_path: Path) -> None:
    for value in ("nan", "inf", "-5", "Thu, 01 Jan 99999 00:00:00 GMT", "soon"):
        slept: list[float] = []
        answers = iter([httpx.Response(503, headers={"Retry-After": value}), httpx.Response(200, content=b"ok")])
        with mock_client(Settings(home=tmp_path, http_retries=1), lambda r: next(answers)) as client:
            client._sleep = slept.append
            assert client.get("https://feeds.example.org/x").body == b"ok"
        assert len(slept) == 1 and 0 <= slept[0] <= 60, value
