"""Fixture transports for tests: replay recordings or answer from a function, never the internet."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import replace

import httpx

from biotracker.config import Settings
from biotracker.ingest.http import HttpClient, RewriteTransport
from biotracker.ingest.replay import ReplayServer


def no_sleep(_seconds: float) -> None:
    """Stand-in for ``time.sleep`` so retries and rate limits cost no wall time in tests."""


@contextlib.contextmanager
def replay_client(
    settings: Settings, server: ReplayServer, *, retries: int | None = None
) -> Iterator[HttpClient]:
    """An ``HttpClient`` whose requests go to a running ``ReplayServer``; sleeping is a no-op."""
    if retries is not None:
        settings = replace(settings, http_retries=retries)
    with HttpClient(
        settings,
        transport=RewriteTransport(server.base_url),
        min_interval_s=0.0,
        sleep=no_sleep,
        jitter=lambda: 0.5,
    ) as client:
        yield client


@contextlib.contextmanager
def mock_client(
    settings: Settings, handler: Callable[[httpx.Request], httpx.Response], *, retries: int | None = None
) -> Iterator[HttpClient]:
    """An ``HttpClient`` answered by ``handler`` (``httpx.MockTransport``); sleeping is a no-op."""
    if retries is not None:
        settings = replace(settings, http_retries=retries)
    with HttpClient(
        settings,
        transport=httpx.MockTransport(handler),
        min_interval_s=0.0,
        sleep=no_sleep,
        jitter=lambda: 0.5,
    ) as client:
        yield client
