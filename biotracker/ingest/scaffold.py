"""``biotracker connectors new``: the files a data engineer fills in to add a feed.

RSS and JSON feeds become an entry in ``connectors/feeds.yaml`` (no Python); CSV feeds, or any feed
with ``module=True``, become ``connectors/<name>.py``. Either way a recording folder is created
with a cassette (provenance to fill in), a placeholder payload and an empty snapshot, so the
conformance kit fails until the engineer records a real payload and reviews the snapshot.

Text from the command line never becomes code or markup as typed: the name must match a strict
pattern, the kind must be a ``SourceKind``, the URL an http(s) address without spaces or control
characters, and every value goes into Python source through ``repr()`` (a string literal, nothing
else) and into YAML through ``yaml.safe_dump``. A title such as
``"; import os; os.system('touch /tmp/x') #`` therefore ends up as a harmless string.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from biotracker.errors import ConfigError
from biotracker.schema import SourceKind

FORMATS = ("rss", "json", "csv")
_NAME = re.compile(r"^[a-z][a-z0-9_]{1,40}$")

_RSS_PAYLOAD = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>PLACEHOLDER: replace with a real recorded payload</title>
<link>https://example.org/</link><description>placeholder</description>
<item><title>Placeholder item one</title><link>https://example.org/1</link><guid>placeholder-1</guid>
<pubDate>Mon, 02 Sep 2024 10:00:00 GMT</pubDate></item>
<item><title>Placeholder item two</title><link>https://example.org/2</link><guid>placeholder-2</guid>
<pubDate>Mon, 02 Sep 2024 11:00:00 GMT</pubDate></item>
</channel></rss>
"""
_JSON_PAYLOAD = {
    "items": [
        {
            "id": "placeholder-1",
            "title": "Placeholder item one",
            "published": "2024-09-02T10:00:00Z",
            "url": "https://example.org/1",
        },
        {
            "id": "placeholder-2",
            "title": "Placeholder item two",
            "published": "2024-09-02T11:00:00Z",
            "url": "https://example.org/2",
        },
    ]
}
_CSV_PAYLOAD = (
    "id,date,title,url\nplaceholder-1,2024-09-02,Placeholder item one,https://example.org/1\n"
    "placeholder-2,2024-09-02,Placeholder item two,https://example.org/2\n"
)

_CSV_MODULE = """MODULE_DOC

from __future__ import annotations

from typing import Any, ClassVar

from biotracker.errors import RecordError
from biotracker.ingest.connector import CsvConnector
from biotracker.ingest.dates import parse_when
from biotracker.ingest.html_text import html_to_text
from biotracker.schema import Report, SourceKind, Tlp


class CLASSNAME(CsvConnector):
    CLASS_DOC

    name = NAME
    title = TITLE
    kind = SourceKind.KIND
    url = URL
    primary_key = ("id",)
    cursor_field = "date"
    tlp = Tlp.CLEAR
    terms = "TODO: the licence / terms-of-use address"
    cadence = "@daily"
    required_fields: ClassVar[tuple[str, ...]] = ("id", "date", "title")

    def to_report(self, record: dict[str, Any]) -> Report | None:
        title = html_to_text(record.get("title"))
        if not title:
            raise RecordError("row has no title")
        when = parse_when(record.get("date"), field="date")
        return Report(source=self.name, source_id=self.record_id(record), url=record.get("url") or None,
                      title=title, published_at=when, observed_at=when, tlp=self.tlp)
"""


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _checked_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or _CONTROL.search(url) or " " in url:
        raise ConfigError(
            f"--url {url[:200]!r} is not an http(s) address without spaces or control characters"
        )
    return url


def _checked_title(title: str) -> str:
    if _CONTROL.search(title) or not title.strip() or len(title) > 200:
        raise ConfigError("--title must be one line of 1-200 characters without control characters")
    return title.strip()


def _module_source(name: str, title: str, kind: SourceKind, url: str) -> str:
    """The CSV connector module; every value is a Python literal made by ``repr()``."""
    class_name = "".join(part.title() for part in name.split("_"))
    values = {
        "MODULE_DOC": repr(f"{title} (one line on what the feed is and why its shape is odd, if it is)."),
        "CLASS_DOC": repr(f"{title}."),
        "CLASSNAME": class_name,
        "NAME": repr(name),
        "TITLE": repr(title),
        "KIND": kind.name,
        "URL": repr(url),
    }
    pattern = r"\b(?:" + "|".join(sorted(values, key=len, reverse=True)) + r")\b"
    return re.sub(pattern, lambda m: values[m.group()], _CSV_MODULE)


@dataclass(frozen=True)
class Scaffold:
    created: list[Path]
    declarative: bool


def scaffold_connector(
    name: str,
    fmt: str,
    *,
    connectors_dir: Path,
    recordings: Path,
    url: str,
    kind: str = "public_health",
    title: str | None = None,
    module: bool = False,
    known: set[str] | None = None,
) -> Scaffold:
    """Create the connector (entry or module) and its recording folder; refuse to overwrite anything."""
    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {FORMATS}")
    if not _NAME.match(name):
        raise ConfigError(f"{name!r} is not a valid connector name: use snake_case letters, digits and _")
    if name in (known or set()) or (connectors_dir / f"{name}.py").exists() or (recordings / name).exists():
        raise ConfigError(f"a connector or recording named {name!r} already exists; pick another name")
    try:
        source_kind = SourceKind(kind)
    except ValueError:
        raise ConfigError(f"--kind must be one of {[k.value for k in SourceKind]}") from None
    url = _checked_url(url)
    title = _checked_title(title or name.replace("_", " ").title())
    created: list[Path] = []
    declarative = fmt in ("rss", "json") and not module
    if declarative:
        entry: dict[str, object] = {
            "name": name,
            "format": fmt,
            "title": title,
            "kind": source_kind.value,
            "url": url,
            "terms": "TODO: the licence / terms-of-use address",
            "cadence": "@daily",
        }
        if fmt == "json":
            entry |= {
                "items": "items",
                "primary_key": ["id"],
                "fields": {"title": "title", "url": "url", "published": "published", "summary": None},
            }
        block = yaml.safe_dump([entry], sort_keys=False, allow_unicode=True, width=1000)
        feeds = connectors_dir / "feeds.yaml"
        text = feeds.read_text(encoding="utf-8") if feeds.exists() else "feeds:\n"
        indented = "".join(f"  {line}" for line in block.splitlines(keepends=True))
        feeds.write_text(text.rstrip("\n") + "\n\n" + indented, encoding="utf-8")
        created.append(feeds)
    else:
        if fmt != "csv":
            raise ConfigError(
                "module scaffolds are written for CSV; for RSS/JSON start from the declarative entry "
                "or copy connectors/who_don.py"
            )
        path = connectors_dir / f"{name}.py"
        path.write_text(_module_source(name, title, source_kind, url), encoding="utf-8")
        created.append(path)
    folder = recordings / name
    folder.mkdir(parents=True)
    payload_name = {"rss": "payload.xml", "json": "payload.json", "csv": "payload.csv"}[fmt]
    payload = {"rss": _RSS_PAYLOAD, "json": json.dumps(_JSON_PAYLOAD, indent=1) + "\n", "csv": _CSV_PAYLOAD}[
        fmt
    ]
    content_type = {"rss": "application/rss+xml", "json": "application/json", "csv": "text/csv"}[fmt]
    (folder / payload_name).write_text(payload, encoding="utf-8")
    (folder / "cassette.yaml").write_text(
        "provenance: >-\n  TODO: where every file comes from (repository, path, commit, licence), or\n"
        '  "recorded by `biotracker connectors record`". The payload here is a PLACEHOLDER.\n'
        "recording: constructed from documentation   # real | real (scraper output) | constructed from documentation\n"
        + yaml.safe_dump(
            {
                "interactions": [
                    {"url": url, "status": 200, "content_type": content_type, "body_file": payload_name}
                ]
            },
            sort_keys=False,
        ),
        encoding="utf-8",
    )
    (folder / "expected.json").write_text(
        json.dumps(
            {
                "reports": None,
                "note": f"run `biotracker connectors check {name} --update-snapshot` and review",
            },
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )
    created += [folder / payload_name, folder / "cassette.yaml", folder / "expected.json"]
    return Scaffold(created=created, declarative=declarative)
