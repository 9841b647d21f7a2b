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

from biotracker.errors import RecordError
from biotracker.ingest.dates import parse_when
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
    #: How payloads arrive: "http" (through ``HttpClient``) or "dropfolder" (files in a folder,
    #: see ``biotracker.ingest.dropfolder``). Either way every payload is archived before parsing.
    fetch_kind: ClassVar[str] = "http"
    #: Fields every record of this source must carry (checked by the conformance kit).
    required_fields: ClassVar[tuple[str, ...]] = ()
    #: Conformance checks this connector skips, each with the reason (``{"check": "why"}``).
    skip_checks: ClassVar[dict[str, str]] = {}
    #: Where the connector came from: "module" (a Python file) or "declarative" (connectors/feeds.yaml).
    origin: ClassVar[str] = "module"
    #: False for intake that is pushed to us (API contributions): no scheduled fetch, still normalised.
    scheduled: ClassVar[bool] = True

    REQUIRED: ClassVar[tuple[str, ...]] = ("name", "title", "kind", "url", "primary_key", "terms", "cadence")

    # --- fetching -----------------------------------------------------------------------------
    def start_urls(self, window: Window) -> list[str]:
        """First address(es) to fetch for ``window``."""
        return [self.url]

    def next_url(self, body: bytes, url: str, window: Window) -> str | None:
        """Address of the next page, or None when this page is the last one needed."""
        return None

    def request_json(self, url: str, window: Window) -> dict[str, Any] | None:
        """JSON to POST to ``url`` (None: a plain GET, the usual case)."""
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
        """The record's ``cursor_field`` as an aware UTC datetime (None: absent or unreadable)."""
        if not self.cursor_field:
            return None
        try:
            return parse_when(record.get(self.cursor_field), field=self.cursor_field)
        except RecordError:
            return None

    # --- testing hook -------------------------------------------------------------------------
    def malform(self, body: bytes) -> bytes:
        """``body`` with exactly one item made unreadable (the conformance kit's malformed-item check)."""
        raise NotImplementedError(
            f"{type(self).__name__} has no malform(); its format base should provide one"
        )


def decode_text(body: bytes, encoding: str = "utf-8-sig") -> str:
    """Text of a payload; a payload that is not valid in ``encoding`` cannot be read at all."""
    try:
        return body.decode(encoding)
    except UnicodeDecodeError as exc:
        raise RecordError(
            f"payload is not valid {encoding.removesuffix('-sig').upper()} (bad byte at offset {exc.start}): "
            "the source changed its encoding; re-record the fixture and set the connector's encoding"
        ) from exc


_decode_text = decode_text


def dig(doc: Any, path: str | None) -> Any:
    """Value at a dotted ``path`` ("links.next.href") in nested dicts; the document itself for ''/None."""
    if not path:
        return doc
    if isinstance(doc, dict) and path in doc:  # keys that contain dots ("@odata.nextLink")
        return doc[path]
    for part in path.split("."):
        if not isinstance(doc, dict):
            return None
        doc = doc.get(part)
    return doc


class JsonApiConnector(Connector):
    """Paged JSON APIs: items under ``items_key`` (a dotted path); next page from ``next_link_key``."""

    items_key: ClassVar[str] = "value"
    next_link_key: ClassVar[str | None] = None

    def parse_document(self, body: bytes) -> Any:
        try:
            doc = json.loads(decode_text(body))
        except json.JSONDecodeError as exc:
            raise RecordError(
                f"payload is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
                "a truncated download or an HTML error page looks like this"
            ) from exc
        if not isinstance(dig(doc, self.items_key), list):
            raise RecordError(
                f"payload has no list under {self.items_key!r}: the API changed shape "
                "(re-record the fixture and update the connector)"
            )
        return doc

    def items(self, doc: Any) -> list[Any]:
        return dig(doc, self.items_key)

    def records(self, body: bytes) -> Iterator[dict[str, Any] | BadRecord]:
        doc = self.parse_document(body)
        for index, item in enumerate(self.items(doc)):
            if isinstance(item, dict):
                yield item
            else:
                yield BadRecord(
                    f"item {index}", f"item is a {type(item).__name__}, not an object", repr(item)[:500]
                )

    def next_url(self, body: bytes, url: str, window: Window) -> str | None:
        if not self.next_link_key:
            return None
        try:
            doc = self.parse_document(body)
        except RecordError:
            return None  # an unreadable page ends paging; normalisation quarantines it
        link = dig(doc, self.next_link_key)
        if not link or not isinstance(link, str):
            return None
        if self.cursor_field:
            cursors = [c for c in (self.cursor(r) for r in self.items(doc) if isinstance(r, dict)) if c]
            if cursors and min(cursors) < window.start:
                return None  # newest-first API: everything older is outside the window
        return link

    def malform(self, body: bytes) -> bytes:
        doc = json.loads(decode_text(body))
        items = self.items(doc)
        if not items:
            raise ValueError("the fixture has no items to malform")
        items[len(items) // 2] = "<not an object>"
        return json.dumps(doc).encode("utf-8")


class CsvConnector(Connector):
    """CSV tables: one record per row; a row with the wrong number of fields is quarantined."""

    encoding: ClassVar[str] = "utf-8-sig"

    def records(self, body: bytes) -> Iterator[dict[str, Any] | BadRecord]:
        text = decode_text(body, self.encoding)
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

    def malform(self, body: bytes) -> bytes:
        lines = body.splitlines(keepends=True)
        if len(lines) < 3:
            raise ValueError("the fixture has too few rows to malform")
        middle = len(lines) // 2
        lines[middle] = b"only-one-field\n"
        return b"".join(lines)
