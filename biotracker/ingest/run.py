"""Stage 1: fetch a feed for a window and archive every payload (``fetch_to_raw``).

Nothing is parsed for content here: payloads are stored first, then normalisation reads them
back. A failing feed records its failure in ``source_health`` and raises for that feed only.
HTTP sources are fetched through the one ``HttpClient`` (conditional GET with the validators of
the previous fetch); drop-folder sources read their folder. Both archive payloads the same way.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

from sqlalchemy import Engine, select

from biotracker.config import Settings
from biotracker.db.tables import source_health
from biotracker.db.upsert import upsert
from biotracker.errors import FetchError
from biotracker.ingest.connector import Connector
from biotracker.ingest.dropfolder import DropFolderConnector, drop_folder_for, read_drop_folder
from biotracker.ingest.http import HttpClient, RewriteTransport
from biotracker.ingest.registry import get_connector
from biotracker.ingest.replay import ReplayServer
from biotracker.raw.archive import store_payload
from biotracker.schema import UTC, Window
from biotracker.storage import StoragePath, write_text

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
    not_modified: int = 0
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
    with (
        ReplayServer.from_recordings(settings.replay_dir) as server,
        HttpClient(settings, transport=RewriteTransport(server.base_url), min_interval_s=0.0) as client,
    ):
        yield client


class Validators:
    """ETag / Last-Modified of the last response per URL, for conditional GET on the next fetch.

    Kept in ``<home>/ingest/http-validators.json`` (written atomically); losing the file only
    costs one unconditional fetch, because identical payloads are archived once anyway.
    """

    def __init__(self, path: StoragePath) -> None:
        self.path = path
        try:
            self._data: dict[str, dict[str, str]] = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            self._data = {}

    def get(self, url: str) -> tuple[str | None, str | None]:
        entry = self._data.get(url, {})
        return entry.get("etag"), entry.get("last_modified")

    def remember(self, url: str, headers: dict[str, str]) -> None:
        entry = {
            k: v
            for k, v in (("etag", headers.get("etag")), ("last_modified", headers.get("last-modified")))
            if v
        }
        if entry and self._data.get(url) != entry:
            self._data[url] = entry
            self._save()

    def _save(self) -> None:
        write_text(self.path, json.dumps(self._data, indent=1, sort_keys=True))


def fetch_to_raw(
    source: str,
    window: Window,
    settings: Settings,
    engine: Engine,
    client: HttpClient | None,
    clock: Clock = utc_now,
) -> FetchSummary:
    """Fetch ``source`` for ``window`` page by page, archiving each payload before anything else."""
    connector = get_connector(source)
    result = FetchSummary(source=source, window=str(window))
    fetched_at = clock()
    try:
        if connector.fetch_kind == "dropfolder":
            _fetch_files(connector, settings, engine, result, fetched_at)
        else:
            if client is None:
                raise ValueError(f"{source} fetches over HTTP: pass an HttpClient (open_http(settings))")
            _fetch_http(connector, window, settings, engine, client, result, fetched_at)
    except FetchError as exc:
        _record_health(engine, source, fetched_at, error=f"{type(exc).__name__}: {exc}")
        raise
    _record_health(engine, source, fetched_at, payloads=result.pages)
    return result


def _archive(
    engine: Engine,
    settings: Settings,
    result: FetchSummary,
    *,
    source: str,
    url: str,
    body: bytes,
    status: int,
    content_type: str | None,
    fetched_at: dt.datetime,
) -> None:
    with engine.begin() as conn:
        record, new = store_payload(
            conn,
            settings.raw_dir,
            source=source,
            url=url,
            body=body,
            http_status=status,
            fetched_at=fetched_at,
            content_type=content_type,
        )
    result.pages += 1
    result.new_payloads += int(new)
    result.bytes += record.size
    result.payloads.append(record.sha256)
    log.info(
        "%s: payload %d from %s (%d bytes, %s)",
        source,
        result.pages,
        url,
        record.size,
        "new" if new else "seen before",
    )


def _fetch_http(
    connector: Connector,
    window: Window,
    settings: Settings,
    engine: Engine,
    client: HttpClient,
    result: FetchSummary,
    fetched_at: dt.datetime,
) -> None:
    validators = Validators(settings.storage_root / "ingest" / "http-validators.json")
    for url in connector.start_urls(window):
        next_url: str | None = url
        while next_url and result.pages + result.not_modified < connector.max_pages:
            body = connector.request_json(next_url, window)
            # Validators belong to a URL; a POSTed search differs by its body (e.g. the window), so it
            # is never made conditional.
            etag, last_modified = validators.get(next_url) if body is None else (None, None)
            response = client.get(next_url, etag=etag, last_modified=last_modified, json_body=body)
            if response.not_modified:
                result.not_modified += 1
                log.info("%s: %s not modified since the last fetch", connector.name, next_url)
                break  # nothing new on this page, so nothing new behind it either
            _archive(
                engine,
                settings,
                result,
                source=connector.name,
                url=next_url,
                body=response.body,
                status=response.status,
                content_type=response.content_type,
                fetched_at=fetched_at,
            )
            if body is None:
                validators.remember(next_url, response.headers)
            next_url = connector.next_url(response.body, next_url, window)


def _fetch_files(
    connector: Connector, settings: Settings, engine: Engine, result: FetchSummary, fetched_at: dt.datetime
) -> None:
    assert isinstance(connector, DropFolderConnector)
    folder = drop_folder_for(settings, connector.name, connector.replay_subfolder)
    if not folder.is_dir() and settings.dropfolder_dir is None and settings.replay_dir is None:
        # Not configured: nothing was dropped. Health turns "silent" after 3x cadence, which is the
        # right signal; a configured folder that is missing is an error (read_drop_folder raises).
        log.warning(
            "%s: no drop folder at %s (set BIOTRACKER_DROPFOLDER_DIR); nothing to read",
            connector.name,
            folder,
        )
        return
    for dropped in read_drop_folder(folder, connector.file_patterns, settings.http_max_bytes):
        _archive(
            engine,
            settings,
            result,
            source=connector.name,
            url=dropped.url,
            body=dropped.body,
            status=200,
            content_type=dropped.content_type,
            fetched_at=fetched_at,
        )


def _record_health(
    engine: Engine, source: str, at: dt.datetime, *, payloads: int = 0, error: str | None = None
) -> None:
    with engine.begin() as conn:
        row = conn.execute(select(source_health).where(source_health.c.source == source)).mappings().first()
        current = (
            dict(row)
            if row
            else {"source": source, "payloads": 0, "items": 0, "quarantined": 0, "failures": 0}
        )
        current["last_fetch_at"] = at
        if error:
            current |= {"last_failure_at": at, "last_error": error, "failures": current["failures"] + 1}
        else:
            current |= {"last_success_at": at, "payloads": payloads}
        upsert(conn, source_health, [current])
