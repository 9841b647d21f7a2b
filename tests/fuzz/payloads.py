"""Payload formats as lists of items, so a fuzzer can change one item and rebuild the payload.

Each adapter splits a recorded payload into an envelope and items and joins them back; the
fuzzer mutates one item (a field value, a missing field, raw bytes) or cuts the payload inside an
item, and knows exactly which items it touched. ``RAW`` marks where raw (possibly invalid) bytes
go: the value is written as text first, then the marker is swapped for the bytes.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from dataclasses import dataclass, field
from typing import Any

RAW = "\x1fRAW{}\x1f"


@dataclass
class Split:
    kind: str  # "csv" | "json" | "rss"
    envelope: Any
    items: list[Any]
    raw: dict[str, bytes] = field(default_factory=dict)  # marker -> bytes


def split(kind: str, body: bytes, items_key: str | None = None, cap: int = 15) -> Split:
    """The payload as an envelope and at most ``cap`` items (large recordings are sampled)."""
    if kind == "csv":
        rows = [r for r in csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")) if r]
        return Split("csv", rows[0], rows[1 : cap + 1])
    if kind == "json":
        doc = json.loads(body)
        items = _dig(doc, items_key)
        return Split("json", (doc, items_key), list(items[:cap]))
    text = body.decode("utf-8")
    tag = "item" if "<item" in text else "entry"
    spans = [m.span() for m in re.finditer(rf"<{tag}[\s>].*?</{tag}>", text, re.S)]
    head, tail = text[: spans[0][0]], text[spans[-1][1] :]
    return Split("rss", (head, tail), [text[a:b] for a, b in spans[:cap]])


def join(s: Split, items: list[Any] | None = None, cut: tuple[int, float] | None = None) -> bytes:
    """The payload with ``items`` (default: all); ``cut=(k, f)`` ends it a fraction ``f`` into item k."""
    items = s.items if items is None else items
    parts = _parts(s, items)
    if cut is not None:
        k, fraction = cut
        text = "".join(parts[: k + 1])
        item_start = len("".join(parts[:k]))
        body = text[: item_start + int((len(text) - item_start) * fraction)]
    else:
        body = "".join(parts)
    data = body.encode("utf-8", "surrogatepass")
    for marker, raw in s.raw.items():
        data = data.replace(marker.encode(), raw)
    return data


def _parts(s: Split, items: list[Any]) -> list[str]:
    """Text pieces, piece k holding item k (the first also holds what precedes, the last what follows)."""
    if s.kind == "json":
        (doc, key) = s.envelope
        return [json.dumps(_with_items(doc, key, items), ensure_ascii=True, allow_nan=True)]
    if s.kind == "csv":
        head, tail = _csv_line(s.envelope), ""
        pieces = [_csv_line(row) for row in items]
    else:
        head, tail = s.envelope
        pieces = list(items)
    if not pieces:
        return [head + tail]
    pieces[0] = head + pieces[0]
    pieces[-1] = pieces[-1] + tail
    return pieces


def _csv_line(row: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(row)
    return buffer.getvalue()


def _dig(doc: Any, path: str | None) -> Any:
    if not path:
        return doc
    if isinstance(doc, dict) and path in doc:
        return doc[path]
    for part in path.split("."):
        doc = doc[part]
    return doc


def _with_items(doc: Any, path: str | None, items: list[Any]) -> Any:
    if not path:
        return items
    copy = json.loads(json.dumps(doc))
    target = copy
    parts = [path] if path in copy else path.split(".")
    for part in parts[:-1]:
        target = target[part]
    target[parts[-1]] = items
    return copy


# --- item editing -----------------------------------------------------------------------------

def item_fields(s: Split, item: Any) -> list[str]:
    if s.kind == "csv":
        return list(s.envelope)
    if s.kind == "json":
        return sorted(item) if isinstance(item, dict) else []
    return sorted(set(re.findall(r"<([A-Za-z][\w:.-]*)[^>]*>[^<]*</\1>", item)))


def field_value(s: Split, item: Any, name: str) -> Any:
    if s.kind == "csv":
        return item[s.envelope.index(name)]
    if s.kind == "json":
        return item.get(name)
    m = re.search(rf"<{re.escape(name)}[^>]*>([^<]*)</{re.escape(name)}>", item)
    return html.unescape(m.group(1)) if m else None


def set_field(s: Split, item: Any, name: str, value: Any) -> Any:
    """``item`` with field ``name`` set to ``value`` (text for CSV/RSS, any JSON value for JSON)."""
    if isinstance(value, bytes):
        marker = RAW.format(len(s.raw))
        s.raw[marker] = value
        value = marker
    if s.kind == "csv":
        row = list(item)
        row[s.envelope.index(name)] = value if isinstance(value, str) else json.dumps(value, allow_nan=True)
        return row
    if s.kind == "json":
        return {**item, name: value}
    text = value if isinstance(value, str) else json.dumps(value, allow_nan=True)
    escaped = html.escape(text, quote=False) if not text.startswith(("\x1fRAW", "<", "&")) else text
    pattern = rf"(<{re.escape(name)}[^>]*>)[^<]*(</{re.escape(name)}>)"
    return re.sub(pattern, lambda m: m.group(1) + escaped + m.group(2), item, count=1)


def drop_field(s: Split, item: Any, name: str) -> Any:
    if s.kind == "csv":
        return set_field(s, item, name, "")
    if s.kind == "json":
        return {k: v for k, v in item.items() if k != name}
    return re.sub(rf"<{re.escape(name)}[^>]*>[^<]*</{re.escape(name)}>", "", item, count=1)
