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
from typing import Any
from urllib.parse import urljoin

from sqlalchemy import Engine, select

from biotracker.config import Settings
from biotracker.db.tables import source_health
from biotracker.db.upsert import upsert
from biotracker.errors import FatalFetchError, FetchError, RefusedAddressError
from biotracker.ingest.connector import Connector
from biotracker.ingest.dropfolder import DropFolderConnector, RefusedFile, drop_folder_for, read_drop_folder
from biotracker.ingest.http import HttpClient, RewriteTransport
from biotracker.ingest.registry import get_connector
from biotracker.ingest.replay import ReplayServer
from biotracker.raw.archive import store_payload
from biotracker.raw.quarantine import quarantine_item
from biotracker.schema import UTC, QuarantineItem, Window
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
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # missing or damaged: only costs one unconditional fetch
            data = {}
        self._data: dict[str, dict[str, str]] = data if isinstance(data, dict) else {}

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


def _quarantine(engine: Engine, item: QuarantineItem) -> None:
    with engine.begin() as conn:
        quarantine_item(conn, item)


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
) -> str:
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
    return record.sha256


def _fetch_http(
    connector: Connector,
    window: Window,
    settings: Settings,
    engine: Engine,
    client: HttpClient,
    result: FetchSummary,
    fetched_at: dt.datetime,
) -> None:
    """Fetch every start address and its pages; only the connector's hosts are ever asked.

    A paging link (or redirect) to another host is refused before any request and quarantined
    with the payload that carried it; the pages before it stand. A start address that is refused,
    or that serves something unusable (an HTML page), fails the fetch after the other start
    addresses are done, so the source shows as failing instead of fresh.
    """
    validators = Validators(settings.storage_root / "ingest" / "http-validators.json")
    hosts = connector.hosts()
    failures: list[str] = []
    seen: set[str] = set()
    for url in connector.start_urls(window):
        next_url: str | None = url
        carrier: str | None = None  # sha256 of the payload whose link is being followed
        while next_url and result.pages + result.not_modified < connector.max_pages:
            body = connector.request_json(next_url, window)
            # Validators belong to a URL; a POSTed search differs by its body (e.g. the window), so it
            # is never made conditional.
            etag, last_modified = validators.get(next_url) if body is None else (None, None)
            try:
                response = client.get(
                    next_url, etag=etag, last_modified=last_modified, json_body=body, allowed_hosts=hosts
                )
            except RefusedAddressError as exc:
                _quarantine(
                    engine,
                    QuarantineItem(
                        source=connector.name,
                        stage="fetch",
                        what=f"{'link in payload' if carrier else 'address'} {next_url[:300]}",
                        reason=str(exc),
                        raw_sha256=carrier,
                    ),
                )
                log.warning("%s: %s", connector.name, exc)
                if carrier is None:
                    failures.append(str(exc))
                break
            if response.not_modified:
                result.not_modified += 1
                log.info("%s: %s not modified since the last fetch", connector.name, next_url)
                if not connector.independent_pages:
                    break  # nothing new on this page, so nothing new behind it either
                seen.add(next_url)
                next_url = _next_page(connector, b"", next_url, window, seen)
                continue
            carrier = _archive(
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
            problem = connector.unusable_payload(response.body, response.content_type)
            if problem:
                failures.append(
                    f"{next_url} served {problem}; it is archived and quarantined when normalised"
                )
                break
            if body is None:
                validators.remember(next_url, response.headers)
            seen.add(next_url)
            next_url = _next_page(connector, response.body, next_url, window, seen)
    if failures:
        raise FatalFetchError("; ".join(failures))


def _next_page(connector: Connector, body: bytes, url: str, window: Window, seen: set[str]) -> str | None:
    """The next page's absolute address (relative links resolved), None at the end or on a loop."""
    try:
        link = connector.next_url(body, url, window)
    except Exception as exc:  # noqa: BLE001 (a page that breaks paging is still archived and normalised)
        log.warning("%s: paging stops after %s: %s: %s", connector.name, url, type(exc).__name__, exc)
        return None
    if not link:
        return None
    try:
        link = urljoin(url, link)
    except ValueError:
        pass  # left as sent: the address check refuses it, with the reason, in quarantine
    if link in seen:
        log.warning(
            "%s: paging stops: %s links back to %s, a page already fetched", connector.name, url, link
        )
        return None
    return link


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
        if isinstance(dropped, RefusedFile):
            log.warning("%s: refused %s: %s", connector.name, dropped.name, dropped.reason)
            _quarantine(
                engine,
                QuarantineItem(
                    source=connector.name, stage="fetch", what=f"file {dropped.name}", reason=dropped.reason
                ),
            )
            continue
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
        current: dict[str, Any] = (
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
