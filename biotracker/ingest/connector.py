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
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

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
    #: True when pages are independent documents listed up front (a MISP feed's events): a page not
    #: modified since the last fetch then does not end paging, as it does for newest-first lists.
    independent_pages: ClassVar[bool] = False
    #: How payloads arrive: "http" (through ``HttpClient``) or "dropfolder" (files in a folder,
    #: see ``biotracker.ingest.dropfolder``). Either way every payload is archived before parsing.
    fetch_kind: ClassVar[str] = "http"
    #: Fields every record of this source must carry (checked by the conformance kit).
    required_fields: ClassVar[tuple[str, ...]] = ()
    #: Conformance checks this connector skips, each with the reason (``{"check": "why"}``).
    skip_checks: ClassVar[dict[str, str]] = {}
    #: Where the connector came from: "module" (a Python file) or "declarative" (connectors/feeds.yaml).
    origin: ClassVar[str] = "module"
    #: Hosts besides the one in ``url`` that this connector may fetch from (paging on a CDN, a
    #: second API host). Every request, paging link and redirect must go to one of ``hosts()``.
    extra_hosts: ClassVar[tuple[str, ...]] = ()
    #: True when a source's ids are final (law-enforcement references): a second, different
    #: version of an id is quarantined as a conflict instead of replacing the first.
    keep_first_version: ClassVar[bool] = False
    #: False for intake that is pushed to us (API contributions): no scheduled fetch, still normalised.
    scheduled: ClassVar[bool] = True

    REQUIRED: ClassVar[tuple[str, ...]] = ("name", "title", "kind", "url", "primary_key", "terms", "cadence")

    # --- fetching -----------------------------------------------------------------------------
    def hosts(self) -> frozenset[str]:
        """Hosts this connector may fetch from: the host of ``url`` plus ``extra_hosts``."""
        own = urlsplit(self.url.replace("{query}", "q")).hostname
        return frozenset(h.lower() for h in (own, *self.extra_hosts) if h)

    def unusable_payload(self, body: bytes, content_type: str | None) -> str | None:
        """Why a fetched payload cannot be this feed at all (None: it may be).

        An HTML page (an error or login page served with status 200) is never a feed payload
        here; it is archived like anything fetched, but the fetch counts as a failure so that the
        source does not look fresh.
        """
        head = _head(body).lower()
        if not head:
            return "an empty body, not the feed"
        if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
            return f"an HTML page (content type {content_type or 'not recorded'}), not the feed"
        if head.startswith(_BINARY_MAGIC):
            return f"binary content (content type {content_type or 'not recorded'}), not the feed"
        return None

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
        except Exception:  # noqa: BLE001 (a cursor is a hint for paging; to_report judges the date)
            return None

    # --- testing hook -------------------------------------------------------------------------
    def malform(self, body: bytes) -> bytes:
        """``body`` with exactly one item made unreadable (the conformance kit's malformed-item check)."""
        raise NotImplementedError(
            f"{type(self).__name__} has no malform(); its format base should provide one"
        )


#: Starts of files that are never a feed: PDF, ZIP/XLSX, gzip, PNG, JPEG, GIF.
_BINARY_MAGIC = (b"%pdf", b"pk\x03\x04", b"\x1f\x8b", b"\x89png", b"\xff\xd8\xff", b"gif8")


def _head(body: bytes) -> bytes:
    """The first KiB of ``body`` without a byte-order mark and leading whitespace."""
    return body[:1024].removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")


def decode_text(body: bytes, encoding: str = "utf-8-sig") -> str:
    """Text of a payload; bytes that are not valid in ``encoding`` become lone surrogates.

    ``surrogateescape`` keeps one bad byte from costing the whole payload: the structure (JSON,
    CSV rows) is still read, and only the items holding such bytes are quarantined (see
    ``undecodable``); no lone surrogate can reach a stored report (the schema refuses them).
    """
    try:
        return body.decode(encoding, "surrogateescape")
    except LookupError as exc:
        raise RecordError(f"unknown encoding {encoding!r}: fix the connector's encoding") from exc


#: Stands for an undecodable byte where a library needs valid text (feedparser): a private-use
#: code point no real feed uses, found again by ``undecodable``.
BAD_BYTE_MARK = "\U0010fffd"
_UNDECODABLE = re.compile("[\udc80-\udcff\U0010fffd]")
_XML_ENCODING = re.compile(rb"^\s*<\?xml[^>]*encoding=[\"']([A-Za-z0-9._-]+)[\"']")


#: Characters XML 1.0 forbids (C0 controls but tab, LF, CR), raw or as character references.
_XML_FORBIDDEN = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|&#0*(?:[0-8]|1[124-9]|2[0-9]|3[01]);|&#[xX]0*(?:[0-8bBcCeEfF]|1[0-9a-fA-F]);"
)


def mark_bad_bytes(body: bytes) -> bytes:
    """A UTF-8 XML payload with each invalid byte and XML-forbidden character replaced by ``BAD_BYTE_MARK``.

    Given one bad byte, feedparser re-decodes the *whole* feed in another encoding; given one
    forbidden control character, its strict parser gives up and the lenient one reads every item
    differently. Marked, the rest stays exactly right and only the items holding a mark are
    quarantined. Payloads that declare another encoding are left to feedparser.
    """
    declared = _XML_ENCODING.match(body.lstrip(b"\xef\xbb\xbf"))
    if declared and declared.group(1).lower().replace(b"_", b"-") not in (b"utf-8", b"utf8"):
        return body
    text = body.decode("utf-8", "surrogateescape")
    marked = _XML_FORBIDDEN.sub(BAD_BYTE_MARK, re.sub("[\udc80-\udcff]", BAD_BYTE_MARK, text))
    return body if marked == text else marked.encode("utf-8")


def undecodable(value: Any) -> str | None:
    """Reason when ``value`` (text, or a record's values) holds bytes that were not valid text."""
    if isinstance(value, str):
        match = _UNDECODABLE.search(value)
        if match is None:
            return None
        if match.group() == BAD_BYTE_MARK:
            return (
                "holds a byte that is not valid text in the payload's encoding, or a control character "
                "XML forbids; the source sent broken or mixed encodings"
            )
        return (
            f"holds a byte that is not valid text in the payload's encoding (0x{ord(match.group()) - 0xDC00:02x}); "
            "the source sent broken or mixed encodings"
        )
    if isinstance(value, dict):
        return next((r for v in value.values() if (r := undecodable(v))), None)
    if isinstance(value, list):
        return next((r for v in value if (r := undecodable(v))), None)
    return None


def readable(text: str) -> str:
    """``text`` with undecodable bytes shown as U+FFFD, for excerpts."""
    return _UNDECODABLE.sub("\ufffd", text)


def load_json(body: bytes) -> Any:
    """A JSON payload (bad bytes kept as lone surrogates); ``RecordError`` when it is not JSON."""
    try:
        return json.loads(decode_text(body))
    except json.JSONDecodeError as exc:
        raise RecordError(
            f"payload is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
            "a truncated download or an HTML error page looks like this"
        ) from exc
    except RecursionError as exc:
        raise RecordError("payload is JSON nested too deeply to read: a broken or hostile payload") from exc
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise RecordError(f"payload is not valid JSON ({exc})") from exc


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

    def unusable_payload(self, body: bytes, content_type: str | None) -> str | None:
        problem = super().unusable_payload(body, content_type)
        if problem is None and not _head(body).startswith((b"{", b"[")):
            problem = f"not JSON (content type {content_type or 'not recorded'}), not the feed"
        return problem

    def parse_document(self, body: bytes) -> Any:
        doc = load_json(body)
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
            if not isinstance(item, dict):
                yield BadRecord(
                    f"item {index}",
                    f"item is a {type(item).__name__}, not an object",
                    readable(repr(item)[:500]),
                )
            elif reason := undecodable(item):
                yield BadRecord(f"item {index}", f"item {reason}", readable(repr(item)[:500]))
            else:
                yield item

    def next_url(self, body: bytes, url: str, window: Window) -> str | None:
        if not self.next_link_key:
            return None
        try:
            doc = self.parse_document(body)
        except Exception:  # noqa: BLE001 (an unreadable page ends paging; normalisation quarantines it)
            return None
        link = dig(doc, self.next_link_key)
        if not link or not isinstance(link, str):
            return None
        if self.cursor_field:
            cursors = [c for c in (self.cursor(r) for r in self.items(doc) if isinstance(r, dict)) if c]
            # Newest-first API: stop once a whole page is older than the window. The newest date
            # decides, so one item with a wrong, ancient date cannot cut paging short (it costs at
            # most one extra page, and ``max_pages`` bounds a page of wrong future dates).
            if cursors and max(cursors) < window.start:
                return None
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
        if reason := undecodable(header):
            raise RecordError(f"CSV header {reason}: no row can be read without its column names")
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
                    readable(",".join(row)[:500]),
                )
                continue
            if reason := undecodable(row):
                yield BadRecord(f"line {reader.line_num}", f"row {reason}", readable(",".join(row)[:500]))
                continue
            yield dict(zip(header, row, strict=True)) | {"_line": reader.line_num}

    def malform(self, body: bytes) -> bytes:
        lines = body.splitlines(keepends=True)
        if len(lines) < 3:
            raise ValueError("the fixture has too few rows to malform")
        middle = len(lines) // 2
        lines[middle] = b"only-one-field\n"
        return b"".join(lines)
