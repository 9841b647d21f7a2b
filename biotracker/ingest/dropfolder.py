"""Drop-folder intake: connectors whose payloads are files put in a folder, not HTTP responses.

A drop-folder connector sets ``fetch_kind = "dropfolder"``; ``fetch_to_raw`` then reads every
``*.csv`` / ``*.json`` file in ``<dropfolder_dir>/<connector name>/`` (sorted by name) and archives
each one exactly like an HTTP payload (content-addressed, so a file read twice is stored once).
Files are never moved or deleted: the folder is the sender's, the archive is ours.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from biotracker.config import Settings
from biotracker.errors import ConfigError, FatalFetchError, RecordError
from biotracker.ingest.connector import BadRecord, CsvConnector, decode_text


@dataclass(frozen=True)
class DroppedFile:
    path: Path
    body: bytes
    content_type: str

    @property
    def url(self) -> str:
        return self.path.resolve().as_uri()


def drop_folder_for(settings: Settings, name: str, replay_subfolder: str | None = None) -> Path:
    """Where connector ``name`` reads files: an explicit drop folder wins, then the replay recordings."""
    if settings.dropfolder_dir is not None:
        return settings.dropfolder_dir / name
    if settings.replay_dir is not None and replay_subfolder:
        return settings.replay_dir / name / replay_subfolder
    return settings.home / "drop" / name


def read_drop_folder(folder: Path, patterns: tuple[str, ...], max_bytes: int) -> Iterator[DroppedFile]:
    """Files matching ``patterns`` in ``folder``, oldest name first; an oversized file is refused."""
    if not folder.is_dir():
        raise FatalFetchError(
            f"drop folder {folder} does not exist: create it or set BIOTRACKER_DROPFOLDER_DIR"
        )
    paths = sorted({p for pattern in patterns for p in folder.glob(pattern) if p.is_file()})
    for path in paths:
        size = path.stat().st_size
        if size > max_bytes:
            raise FatalFetchError(
                f"{path} is {size} bytes, over the {max_bytes}-byte cap; split the file or raise "
                "BIOTRACKER_HTTP_MAX_BYTES"
            )
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        yield DroppedFile(path=path, body=path.read_bytes(), content_type=content_type)


class DropFolderConnector(CsvConnector):
    """Files dropped in a folder, as CSV (header row) or JSON (a list, or ``{"<items_key>": [...]}``)."""

    fetch_kind: ClassVar[str] = "dropfolder"
    url: ClassVar[str] = "file://<dropfolder_dir>/<name>/"
    file_patterns: ClassVar[tuple[str, ...]] = ("*.csv", "*.json")
    items_key: ClassVar[str] = "reports"
    #: Folder inside the connector's recording folder that replays as its drop folder.
    replay_subfolder: ClassVar[str] = "drop"
    skip_checks: ClassVar[dict[str, str]] = {
        "http_429_retryable": "reads files from a drop folder: there is no HTTP status to map",
        "http_503_retryable": "reads files from a drop folder: there is no HTTP status to map",
        "http_401_fatal": "reads files from a drop folder: there is no HTTP status to map",
        "http_404_fatal": "reads files from a drop folder: there is no HTTP status to map",
    }

    @staticmethod
    def is_json(body: bytes) -> bool:
        return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[")

    def records(self, body: bytes) -> Iterator[dict[str, Any] | BadRecord]:
        if not self.is_json(body):
            yield from super().records(body)
            return
        try:
            doc = json.loads(decode_text(body))
        except json.JSONDecodeError as exc:
            raise RecordError(
                f"file is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
                "was it copied before the sender finished writing it?"
            ) from exc
        items = doc.get(self.items_key) if isinstance(doc, dict) else doc
        if not isinstance(items, list):
            raise RecordError(
                f"JSON file must be a list of reports or an object with a {self.items_key!r} list"
            )
        for index, item in enumerate(items):
            if isinstance(item, dict):
                yield item | {"_line": f"item {index}"}
            else:
                yield BadRecord(
                    f"item {index}", f"item is a {type(item).__name__}, not an object", repr(item)[:500]
                )

    def malform(self, body: bytes) -> bytes:
        if not self.is_json(body):
            return super().malform(body)
        doc = json.loads(decode_text(body))
        items = doc.get(self.items_key) if isinstance(doc, dict) else doc
        if not items:
            raise ConfigError("the fixture has no items to malform")
        items[len(items) // 2] = "<not an object>"
        return json.dumps(doc).encode("utf-8")
