"""Connector base classes: a connector declares facts and at most two hooks; the framework does I/O.

A connector never fetches, archives or writes: ``biotracker.ingest.run`` fetches through the one
HTTP layer and archives every payload; ``biotracker.normalise.run`` later calls ``records`` and
``to_report`` on archived bytes. ``to_report`` must be pure (no I/O, clock or randomness).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from biotracker.errors import FatalFetchError, RecordError
from biotracker.schema import Report, SourceKind, Tlp, Window


@dataclass(frozen=True)
class BadRecord:
    """An item that could not be read from a payload: it goes to quarantine, the rest lands."""

    what: str
    reason: str
    excerpt: str = ""


class Connector:
    """Facts every feed declares. Subclasses set the class attributes and override hooks."""

    name: ClassVar[str]
    title: ClassVar[str]
    kind: ClassVar[SourceKind]
    url: ClassVar[str]
    primary_key: ClassVar[tuple[str, ...]]
    cursor_field: ClassVar[str | None] = None
    tlp: ClassVar[Tlp] = Tlp.CLEAR
    terms: ClassVar[str]
    cadence: ClassVar[str] = "@daily"
    #: Bump when ``records``/``to_report`` change, so archived payloads are normalised again.
    parser_version: ClassVar[int] = 1
    #: At most this many pages per fetch (protects against a paging loop in a broken feed).
    max_pages: ClassVar[int] = 50

    REQUIRED: ClassVar[tuple[str, ...]] = ("name", "title", "kind", "url", "primary_key", "terms", "cadence")

    # --- fetching -----------------------------------------------------------------------------
    def start_urls(self, window: Window) -> list[str]:
        """First address(es) to fetch for ``window``."""
        return [self.url]

    def next_url(self, body: bytes, url: str, window: Window) -> str | None:
        """Address of the next page, or None when this page is the last one needed."""
        return None

    # --- parsing ------------------------------------------------------------------------------
    def records(self, body: bytes) -> Iterator[dict[str, Any] | BadRecord]:
        """Items of one payload; unreadable items come out as ``BadRecord``."""
        raise NotImplementedError

    def to_report(self, record: dict[str, Any]) -> Report | None:
        """Pure mapping of one item to a report (None: the item is not about a biological event)."""
        raise NotImplementedError

    def record_id(self, record: dict[str, Any]) -> str:
        values = [record.get(key) for key in self.primary_key]
        if any(v is None or str(v).strip() == "" for v in values):
            raise RecordError(f"primary key {self.primary_key} is missing or empty")
        return "|".join(str(v).strip() for v in values)

    def cursor(self, record: dict[str, Any]) -> dt.datetime | None:
        return None


def _decode_text(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FatalFetchError(
            f"payload is not valid UTF-8 (byte {exc.start}): the source changed its encoding; "
            "re-record the fixture and set the connector's encoding"
        ) from exc


class JsonApiConnector(Connector):
    """Paged JSON APIs: items under ``items_key``; next page from ``next_link_key`` (if any)."""

    items_key: ClassVar[str] = "value"
    next_link_key: ClassVar[str | None] = None

    def parse_document(self, body: bytes) -> dict[str, Any]:
        try:
            doc = json.loads(_decode_text(body))
        except json.JSONDecodeError as exc:
            raise RecordError(f"payload is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from exc
        if not isinstance(doc, dict) or not isinstance(doc.get(self.items_key), list):
            raise RecordError(f"payload has no list under {self.items_key!r}: the API changed shape")
        return doc

    def records(self, body: bytes) -> Iterator[dict[str, Any] | BadRecord]:
        doc = self.parse_document(body)
        for index, item in enumerate(doc[self.items_key]):
            if isinstance(item, dict):
                yield item
            else:
                yield BadRecord(f"item {index}", f"item is a {type(item).__name__}, not an object", repr(item)[:500])

    def next_url(self, body: bytes, url: str, window: Window) -> str | None:
        if not self.next_link_key:
            return None
        try:
            doc = self.parse_document(body)
        except RecordError:
            return None  # an unreadable page ends paging; normalisation quarantines it
        link = doc.get(self.next_link_key)
        if not link:
            return None
        if self.cursor_field:
            cursors = [c for c in (self.cursor(r) for r in doc[self.items_key] if isinstance(r, dict)) if c]
            if cursors and min(cursors) < window.start:
                return None  # newest-first API: everything older is outside the window
        return str(link)


class CsvConnector(Connector):
    """CSV tables: one record per row; a row with the wrong number of fields is quarantined."""

    def records(self, body: bytes) -> Iterator[dict[str, Any] | BadRecord]:
        text = _decode_text(body)
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            header = next(reader)
        except (StopIteration, csv.Error) as exc:
            raise RecordError(f"CSV has no header row: {exc}") from exc
        header = [h.strip() for h in header]
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield BadRecord(f"line {reader.line_num}", f"unreadable CSV row: {exc}")
                continue
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                yield BadRecord(
                    f"line {reader.line_num}",
                    f"row has {len(row)} fields, the header has {len(header)}",
                    ",".join(row)[:500],
                )
                continue
            yield dict(zip(header, row, strict=True)) | {"_line": reader.line_num}
