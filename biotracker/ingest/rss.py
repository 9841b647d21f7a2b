"""RSS/Atom feeds: defusedxml vets the bytes, then feedparser reads them (it never fetches URLs).

Order matters: ``guard_xml`` rejects DTD entity declarations and external references *before*
feedparser sees the payload (XXE, billion-laughs); feedparser then tolerates the many small
mistakes real feeds make. A feed that breaks off half-way keeps the items read before the break
and reports the break as a quarantined ``BadRecord``.

A feed whose DTD declares entities loses only the items that use them (``defuse_entities``): the
DTD is cut out, every item referring to one of its entities is quarantined unexpanded, other
references are blanked, and the rest is vetted again by ``guard_xml`` before feedparser reads it.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from typing import Any, ClassVar
from xml.etree.ElementTree import ParseError

import feedparser
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as defused_fromstring

from biotracker.errors import RecordError
from biotracker.ingest.connector import BadRecord, Connector, mark_bad_bytes, readable, undecodable
from biotracker.ingest.dates import not_after, parse_when
from biotracker.ingest.html_text import html_to_text
from biotracker.schema import UTC, Report

_FEED_ROOTS = {"rss", "feed", "rdf", "RDF"}


class HostileXmlError(RecordError):
    """The XML declares entities or external references (XXE, entity expansion)."""


def guard_xml(body: bytes) -> str | None:
    """Refuse hostile XML; return the root element's local name (None: not well-formed XML).

    Raises ``HostileXmlError`` for entity declarations, external entities and DTD tricks;
    ``RssConnector.records`` then keeps the items that do not use them (``defuse_entities``).
    """
    try:
        root = defused_fromstring(body, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise HostileXmlError(
            f"payload refused: the XML declares entities or external references ({type(exc).__name__}); "
            "feeds never need them and they are the XXE / entity-expansion attack"
        ) from exc
    except ParseError:
        return None
    return root.tag.rsplit("}", 1)[-1]


_DOCTYPE = re.compile(rb"<!DOCTYPE\s[^\[>]*(?:\[(?P<subset>.*?)\]\s*)?>", re.DOTALL | re.IGNORECASE)
_ENTITY_DECL = re.compile(rb"<!ENTITY\s+(?:%\s*)?(?P<name>[A-Za-z_:][\w.:-]*)", re.DOTALL)
_ITEM = re.compile(rb"<(?P<tag>item|entry)[\s>].*?</(?P=tag)\s*>", re.DOTALL)


def defuse_entities(body: bytes) -> tuple[bytes, list[tuple[int, str]]]:
    """``body`` without its DTD and without the items that use the DTD's entities.

    Returns the cleaned payload and (item index, excerpt) of each removed item. The excerpt is
    the item as sent, entity references unexpanded, so nothing the entity pointed at is read.
    Raises ``HostileXmlError`` when the declaration cannot be cut out safely.
    """
    doctype = _DOCTYPE.search(body)
    if doctype is None:
        raise HostileXmlError(
            "payload refused: its XML declares entities in a way that cannot be cut out safely"
        )
    names = {m["name"] for m in _ENTITY_DECL.finditer(doctype["subset"] or b"")}
    refs = re.compile(rb"&(?:" + b"|".join(re.escape(n) for n in sorted(names)) + rb");") if names else None
    rest = body[: doctype.start()] + body[doctype.end() :]
    removed: list[tuple[int, str]] = []
    parts: list[bytes] = []
    last = 0
    for index, item in enumerate(_ITEM.finditer(rest)):
        if refs is not None and refs.search(item.group()):
            parts.append(rest[last : item.start()])
            last = item.end()
            removed.append((index, item.group()[:300].decode("utf-8", "replace")))
    parts.append(rest[last:])
    cleaned = b"".join(parts)
    if refs is not None:
        cleaned = refs.sub(b"", cleaned)  # references outside items (a channel title) are blanked
    guard_xml(cleaned)  # anything left that still declares or uses entities refuses the payload
    return cleaned, removed


def _struct_to_iso(value: time.struct_time | None) -> str | None:
    if value is None:
        return None
    try:
        return dt.datetime(*value[:6], tzinfo=UTC).isoformat()
    except (TypeError, ValueError):
        return None


def _plain(value: Any) -> Any:
    """JSON-compatible copy of a feedparser value (dicts, lists, strings, numbers)."""
    if isinstance(value, time.struct_time):
        return _struct_to_iso(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


_TAG = re.compile(rb"<(/?)([A-Za-z_][\w:.-]*)[^<>]*?(/?)>")


def _well_formed(doc: bytes) -> bool:
    try:
        defused_fromstring(doc, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException):
        return False
    return True


def _closing_tags(head: bytes) -> bytes:
    """End tags for the elements ``head`` leaves open (``</channel></rss>``, ``</feed>``)."""
    stack: list[bytes] = []
    for closing, name, empty in _TAG.findall(head):
        if empty:
            continue
        if closing:
            if name in stack:
                del stack[len(stack) - 1 - stack[::-1].index(name) :]
        else:
            stack.append(name)
    return b"".join(b"</" + name + b">" for name in reversed(stack))


def isolate_broken_items(body: bytes) -> tuple[bytes, list[BadRecord]] | None:
    """A well-formed feed of the items that are well-formed on their own, and what was left out.

    A feed that is not well-formed XML would otherwise go to feedparser's lenient parser, which
    reads *every* item differently (namespaced fields are lost); here a broken or cut-off item
    costs only itself. None when the feed's frame (channel, root) is broken too.
    """
    items = list(_ITEM.finditer(body))
    if not items:
        return None
    head, tail = body[: items[0].start()], body[items[-1].end() :]
    closing = tail if _well_formed(head + tail) else _closing_tags(head)
    if not closing or not _well_formed(head + closing):
        return None
    notes: list[BadRecord] = []
    if closing is not tail:
        notes.append(
            BadRecord(
                "payload",
                f"the feed is cut off or broken after its last complete item ({len(items)} found); "
                "what follows it was not read",
                readable(tail[-300:].decode("utf-8", "replace")),
            )
        )
    kept = []
    for index, item in enumerate(items):
        if _well_formed(head + item.group() + closing):
            kept.append(item.group())
        else:
            excerpt = readable(item.group()[:300].decode("utf-8", "replace"))
            notes.append(
                BadRecord(f"item {index}", "item is not well-formed XML; the other items were read", excerpt)
            )
    if not notes:
        return None  # every item is fine: the break is elsewhere, leave it to feedparser
    return head + b"\n".join(kept) + closing, notes


class RssConnector(Connector):
    """RSS 2.0 / Atom / RDF feeds. Each record is a feedparser entry flattened to plain JSON."""

    primary_key: ClassVar[tuple[str, ...]] = ("id",)
    cursor_field: ClassVar[str | None] = "published"
    required_fields: ClassVar[tuple[str, ...]] = ("id", "title")

    def unusable_payload(self, body: bytes, content_type: str | None) -> str | None:
        problem = super().unusable_payload(body, content_type)
        if problem is None and not body[:1024].removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"<"):
            problem = f"not XML (content type {content_type or 'not recorded'}), not the feed"
        return problem

    def parse_feed(self, body: bytes) -> feedparser.FeedParserDict:
        root = guard_xml(body)
        if root is not None and root not in _FEED_ROOTS:
            raise RecordError(
                f"payload is XML but not a feed (root element <{root}>): the address now serves "
                "something else; check the connector's url"
            )
        parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
        if not parsed.get("version") and not parsed.entries:
            head = body[:200].decode("utf-8", "replace").strip().lower()
            what = "an HTML page" if "<html" in head or "<!doctype html" in head else "not RSS/Atom"
            raise RecordError(
                f"payload is {what}: no feed could be read (wrong content type or an error page)"
            )
        return parsed

    def records(self, body: bytes) -> Iterator[dict[str, Any] | BadRecord]:
        body = mark_bad_bytes(body)
        try:
            root = guard_xml(body)
        except HostileXmlError:
            body, removed = defuse_entities(body)
            root = guard_xml(body)
            yield BadRecord(
                "payload",
                "the feed declares DTD entities, which feeds never need (the XXE / entity-expansion "
                f"attack): the DTD was removed, {len(removed)} item(s) using its entities are quarantined "
                "unexpanded and the other items were read",
            )
            for index, excerpt in removed:
                yield BadRecord(
                    f"item {index}",
                    "item uses an entity declared in the refused DTD (XXE / entity expansion); not expanded",
                    excerpt,
                )
        if root is None:
            repaired = isolate_broken_items(body)
            if repaired is not None:
                body, notes = repaired
                yield from notes
        parsed = self.parse_feed(body)
        # dict.get: FeedParserDict.get maps updated_parsed to published_parsed (with a deprecation warning)
        built = dict.get(parsed.feed, "updated_parsed") or dict.get(parsed.feed, "published_parsed")
        feed_built = _struct_to_iso(built)
        for index, entry in enumerate(parsed.entries):
            record = {str(k): _plain(v) for k, v in entry.items() if not k.endswith(("_parsed", "_detail"))}
            record["published"] = (
                _struct_to_iso(dict.get(entry, "published_parsed"))
                or dict.get(entry, "published")
                or _struct_to_iso(dict.get(entry, "updated_parsed"))
                or dict.get(entry, "updated")
            )
            record["id"] = entry.get("id") or entry.get("link")
            record["_feed_built"] = feed_built
            record["_index"] = index
            if reason := undecodable(record):
                yield BadRecord(f"item {index}", f"item {reason}", readable(repr(record)[:500]))
                continue
            yield record
        if parsed.get("bozo") and parsed.get("bozo_exception") is not None:
            exc = parsed["bozo_exception"]
            if not isinstance(exc, (feedparser.CharacterEncodingOverride,)):
                yield BadRecord(
                    "payload",
                    f"feed is malformed after {len(parsed.entries)} readable item(s): {exc}; "
                    "the readable items were kept",
                    body[-300:].decode("utf-8", "replace"),
                )
            else:
                yield BadRecord(
                    "payload",
                    f"feed declares the wrong character encoding ({exc}); items were "
                    "decoded with a fallback and may contain wrong characters",
                )

    # --- mapping helpers for subclasses ---------------------------------------------------------
    def published(self, record: dict[str, Any]) -> dt.datetime | None:
        when = parse_when(record.get("published"), field="published")
        built = parse_when(record.get("_feed_built"), field="feed build date")
        not_after(when, built, field="published")
        return when

    def to_report(self, record: dict[str, Any]) -> Report | None:
        title = html_to_text(record.get("title"))
        if not title:
            raise RecordError("item has no title")
        when = self.published(record)
        return Report(
            source=self.name,
            source_id=self.record_id(record),
            url=record.get("link"),
            title=title,
            summary=html_to_text(record.get("summary")),
            published_at=when,
            observed_at=when,
            language=getattr(self, "language", "en"),
            tlp=self.tlp,
        )

    def malform(self, body: bytes) -> bytes:
        text = body.decode("utf-8-sig", "replace")
        tag = "item" if "<item" in text else "entry"
        items = [m.start() for m in re.finditer(rf"<{tag}[\s>]", text)]
        if not items:
            raise ValueError("the fixture has no items to malform")
        start = items[len(items) // 2]
        end = text.index(f"</{tag}>", start) + len(tag) + 3
        broken = f"<{tag}><description>an item without title, link or id</description></{tag}>"
        return (text[:start] + broken + text[end:]).encode("utf-8")
