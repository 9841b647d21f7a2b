"""Declarative feeds: a plain RSS/Atom or JSON feed is one entry in ``connectors/feeds.yaml``.

Each entry becomes a connector class at registry time (no Python to write): the same base
classes, the same HTTP layer, archive and quarantine, and the same conformance kit as a module.
Entries are validated strictly, so a typo fails fast with the entry's name in the message.

Example::

    feeds:
      - name: cidrap
        format: rss                      # rss | json
        title: CIDRAP News
        kind: public_health              # public_health | veterinary | osint | law_enforcement | context
        url: https://www.cidrap.umn.edu/news/rss.xml
        terms: https://www.cidrap.umn.edu/terms-use
        cadence: "@hourly"
        tlp: CLEAR                       # optional, default CLEAR
        queries: [...]                   # optional: url has {query}; one request per query
        extra_hosts: [cdn.example.org]   # optional: hosts besides url's that paging may reach
        # json only:
        items: articles                  # dotted path to the list of items
        next: links.next.href            # optional dotted path to the next page's address
        primary_key: [url]
        fields: {title: title, url: url, published: seendate, summary: ..., language: ...}
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import quote_plus

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from biotracker.errors import ConfigError, RecordError
from biotracker.ingest.connector import Connector, JsonApiConnector, dig
from biotracker.ingest.dates import parse_when
from biotracker.ingest.html_text import html_to_text
from biotracker.ingest.rss import RssConnector
from biotracker.schema import Report, SourceKind, Tlp, Window

FEEDS_FILE_NAME = "feeds.yaml"


class FieldMap(BaseModel):
    """Where a report's fields are in a record (dotted paths)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = "title"
    summary: str | None = "summary"
    url: str | None = "link"
    published: str | None = "published"
    language: str | None = None


class FeedEntry(BaseModel):
    """One declarative feed; field names match the connector contract."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    format: Literal["rss", "json"]
    title: str
    kind: SourceKind
    url: str
    terms: str
    cadence: str = "@daily"
    tlp: str = "CLEAR"
    language: str = "en"
    queries: list[str] = Field(default_factory=list)
    #: Hosts besides the one in ``url`` that requests, paging links and redirects may reach.
    extra_hosts: list[str] = Field(default_factory=list)
    items: str | None = None
    next: str | None = None
    primary_key: list[str] | None = None
    cursor_field: str | None = None
    fields: FieldMap = FieldMap()
    parser_version: int = 1

    @field_validator("tlp")
    @classmethod
    def _tlp(cls, value: str) -> str:
        return Tlp.parse(value).value

    def model_post_init(self, _context: Any) -> None:
        if self.queries and "{query}" not in self.url:
            raise ValueError("queries are given but url has no {query} placeholder")
        if self.format == "json" and not self.items:
            raise ValueError("a json feed needs items: the dotted path to its list of items")
        if self.format == "json" and not self.primary_key:
            raise ValueError("a json feed needs primary_key: the field(s) that identify an item")


class _DeclarativeMixin:
    """Behaviour shared by declarative RSS and JSON connectors."""

    origin: ClassVar[str] = "declarative"
    entry: ClassVar[FeedEntry]
    language: ClassVar[str] = "en"

    def start_urls(self, window: Window) -> list[str]:
        entry = self.entry
        if not entry.queries:
            return [entry.url]
        return [entry.url.replace("{query}", quote_plus(q)) for q in entry.queries]


class DeclarativeRss(_DeclarativeMixin, RssConnector):
    """An RSS/Atom feed declared in feeds.yaml."""


class DeclarativeJson(_DeclarativeMixin, JsonApiConnector):
    """A JSON API declared in feeds.yaml; reports are mapped with ``fields``."""

    def cursor(self, record: dict[str, Any]) -> dt.datetime | None:
        try:
            return parse_when(dig(record, self.entry.fields.published), field="published")
        except RecordError:
            return None

    def to_report(self, record: dict[str, Any]) -> Report | None:
        fields = self.entry.fields
        title = html_to_text(str(dig(record, fields.title) or ""))
        if not title:
            raise RecordError(f"item has no {fields.title!r}")
        when = parse_when(dig(record, fields.published), field=fields.published or "published")
        language = (
            str(dig(record, fields.language) or self.language)[:8] if fields.language else self.language
        )
        url = dig(record, fields.url) if fields.url else None
        return Report(
            source=self.name,
            source_id=self.record_id(record),
            url=str(url) if url else None,
            title=title,
            summary=html_to_text(str(dig(record, fields.summary) or "")) if fields.summary else "",
            published_at=when,
            observed_at=when,
            language=language,
            tlp=self.tlp,
        )


def build_class(entry: FeedEntry) -> type[Connector]:
    """The connector class an entry declares."""
    base: type[Connector] = DeclarativeRss if entry.format == "rss" else DeclarativeJson
    attrs: dict[str, Any] = {
        "__doc__": f"{entry.title} (declared in connectors/{FEEDS_FILE_NAME}).",
        "__module__": f"connectors.{FEEDS_FILE_NAME}",
        "entry": entry,
        "name": entry.name,
        "title": entry.title,
        "kind": entry.kind,
        "url": entry.url,
        "terms": entry.terms,
        "cadence": entry.cadence,
        "tlp": Tlp(entry.tlp),
        "language": entry.language,
        "parser_version": entry.parser_version,
        "extra_hosts": tuple(entry.extra_hosts),
    }
    if entry.format == "json":
        attrs |= {
            "items_key": entry.items,
            "next_link_key": entry.next,
            "primary_key": tuple(entry.primary_key or ()),
            "cursor_field": entry.cursor_field or entry.fields.published,
            "required_fields": tuple(entry.primary_key or ()) + (entry.fields.title,),
        }
    elif entry.primary_key:
        attrs["primary_key"] = tuple(entry.primary_key)
    class_name = "".join(part.title() for part in entry.name.split("_"))
    return type(class_name, (base,), attrs)


def load_entries(path: Path) -> list[FeedEntry]:
    """Validated entries of a feeds file (ConfigError names the entry and the problem)."""
    if not path.exists():
        return []
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    raw = doc.get("feeds") if isinstance(doc, dict) else None
    if not isinstance(raw, list):
        raise ConfigError(f"{path} must hold a mapping with a 'feeds' list")
    entries = []
    for index, item in enumerate(raw):
        label = item.get("name", f"entry {index}") if isinstance(item, dict) else f"entry {index}"
        try:
            entries.append(FeedEntry.model_validate(item))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'entry'}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigError(f"{path}: feed {label!r} is invalid: {problems}") from exc
    names = [e.name for e in entries]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{path}: feed names must be unique; repeated: {duplicates}")
    return entries


def declarative_classes(path: Path) -> dict[str, type[Connector]]:
    return {entry.name: build_class(entry) for entry in load_entries(path)}
