"""Stage 1: fetch a feed for a window and archive every payload (``fetch_to_raw``).

Nothing is parsed for content here: payloads are stored first, then normalisation reads them
back. A failing feed records its failure in ``source_health`` and raises for that feed only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

from sqlalchemy import Engine, select

from biotracker.config import Settings
from biotracker.db.tables import source_health
from biotracker.db.upsert import upsert
from biotracker.errors import FetchError
from biotracker.ingest.http import HttpClient, RewriteTransport
from biotracker.ingest.registry import get_connector
from biotracker.ingest.replay import ReplayServer
from biotracker.raw.archive import store_payload
from biotracker.schema import UTC, Window

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(UTC)


@dataclass
class FetchSummary:
    source: str
    window: str
    pages: int = 0
    new_payloads: int = 0
    bytes: int = 0
    payloads: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        return asdict(self)


@contextlib.contextmanager
def open_http(settings: Settings) -> Iterator[HttpClient]:
    """The HTTP client for ``settings``: live, or replaying recordings when ``replay_dir`` is set."""
    if settings.replay_dir is None:
        with HttpClient(settings) as client:
            yield client
        return
    with ReplayServer.from_recordings(settings.replay_dir) as server:
        with HttpClient(settings, transport=RewriteTransport(server.base_url), min_interval_s=0.0) as client:
            yield client


def fetch_to_raw(
    source: str,
    window: Window,
    settings: Settings,
    engine: Engine,
    client: HttpClient,
    clock: Clock = utc_now,
) -> FetchSummary:
    """Fetch ``source`` for ``window`` page by page, archiving each payload before anything else."""
    connector = get_connector(source)
    result = FetchSummary(source=source, window=str(window))
    fetched_at = clock()
    try:
        for url in connector.start_urls(window):
            next_url: str | None = url
            while next_url and result.pages < connector.max_pages:
                response = client.get(next_url)
                with engine.begin() as conn:
                    record, new = store_payload(
                        conn,
                        settings.raw_dir,
                        source=source,
                        url=next_url,
                        body=response.body,
                        http_status=response.status,
                        fetched_at=fetched_at,
                        content_type=response.content_type,
                    )
                result.pages += 1
                result.new_payloads += int(new)
                result.bytes += record.size
                result.payloads.append(record.sha256)
                log.info("%s: page %d from %s (%d bytes, %s)", source, result.pages, next_url, record.size,
                         "new" if new else "seen before")
                next_url = connector.next_url(response.body, next_url, window)
    except FetchError as exc:
        _record_health(engine, source, fetched_at, error=f"{type(exc).__name__}: {exc}")
        raise
    _record_health(engine, source, fetched_at, payloads=result.pages)
    return result


def _record_health(engine: Engine, source: str, at: dt.datetime, *, payloads: int = 0, error: str | None = None) -> None:
    with engine.begin() as conn:
        row = conn.execute(select(source_health).where(source_health.c.source == source)).mappings().first()
        current = dict(row) if row else {"source": source, "payloads": 0, "items": 0, "quarantined": 0, "failures": 0}
        current["last_fetch_at"] = at
        if error:
            current |= {"last_failure_at": at, "last_error": error, "failures": current["failures"] + 1}
        else:
            current |= {"last_success_at": at, "payloads": payloads}
        upsert(conn, source_health, [current])
