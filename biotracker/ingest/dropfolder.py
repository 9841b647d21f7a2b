"""Drop-folder intake: connectors whose payloads are files put in a folder, not HTTP responses.

A drop-folder connector sets ``fetch_kind = "dropfolder"``; ``fetch_to_raw`` then reads every
``*.csv`` / ``*.json`` file in ``<dropfolder_dir>/<connector name>/`` (sorted by name) and archives
each one exactly like an HTTP payload (content-addressed, so a file read twice is stored once).
Files are never moved or deleted: the folder is the sender's, the archive is ours.

Only regular files that sit directly in the folder are read. Symbolic links, hard links to
files elsewhere, devices, FIFOs and sockets are refused without being opened (they are how a
drop folder is turned into a way to read ``/etc/shadow`` or to hang the reader); so is a file over
the size cap. A refused file becomes a ``RefusedFile`` (quarantined once by ``fetch_to_raw``, with
no excerpt) and never stops the other files of the folder.
"""

from __future__ import annotations

import fnmatch
import json
import mimetypes
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from biotracker.config import Settings
from biotracker.errors import ConfigError, FatalFetchError, RecordError
from biotracker.ingest.connector import BadRecord, CsvConnector, load_json, readable, undecodable


@dataclass(frozen=True)
class DroppedFile:
    path: Path
    body: bytes
    content_type: str

    @property
    def url(self) -> str:
        return self.path.as_uri()


@dataclass(frozen=True)
class RefusedFile:
    """A file of the drop folder that was not read, and why (nothing of its content is kept)."""

    name: str
    reason: str


def drop_folder_for(settings: Settings, name: str, replay_subfolder: str | None = None) -> Path:
    """Where connector ``name`` reads files: an explicit drop folder wins, then the replay recordings."""
    if settings.dropfolder_dir is not None:
        return settings.dropfolder_dir / name
    if settings.replay_dir is not None and replay_subfolder:
        return settings.replay_dir / name / replay_subfolder
    return settings.home / "drop" / name


def read_drop_folder(
    folder: Path, patterns: tuple[str, ...], max_bytes: int
) -> Iterator[DroppedFile | RefusedFile]:
    """Files matching ``patterns`` directly in ``folder``, by name; unsafe or oversized ones refused."""
    if not folder.is_dir():
        raise FatalFetchError(
            f"drop folder {folder} does not exist: create it or set BIOTRACKER_DROPFOLDER_DIR"
        )
    root = folder.resolve()  # the configured folder itself may be a link; its entries may not
    with os.scandir(root) as entries:
        names = sorted(
            e.name
            for e in entries
            if not e.name.startswith(".") and any(fnmatch.fnmatchcase(e.name, p) for p in patterns)
        )
    for name in names:
        yield _read_one(root / name, max_bytes)


def _refusal(st: os.stat_result, max_bytes: int) -> str | None:
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link; a drop folder takes regular files only (copy the file in)"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file (a device, FIFO, socket or folder); it is never opened"
    if st.st_nlink > 1:
        return (
            f"has {st.st_nlink} hard links, so it may be a file from elsewhere on this system; "
            "copy the file in instead of linking it"
        )
    if st.st_size > max_bytes:
        return (
            f"is {st.st_size} bytes, over the {max_bytes}-byte cap; split the file or raise "
            "BIOTRACKER_HTTP_MAX_BYTES"
        )
    return None


def _read_one(path: Path, max_bytes: int) -> DroppedFile | RefusedFile:
    """Read ``path`` if it is a plain file of the folder, checked before and after opening it."""
    try:
        before = os.lstat(path)
    except FileNotFoundError:
        return RefusedFile(path.name, "was removed before it could be read")
    reason = _refusal(before, max_bytes)
    if reason:
        return RefusedFile(path.name, reason)
    flags = (
        os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    )
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        return RefusedFile(path.name, f"cannot be opened safely ({exc.strerror})")
    with os.fdopen(fd, "rb") as fh:
        after = os.fstat(fh.fileno())
        if (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
            return RefusedFile(path.name, "was replaced while being read; it is read on the next run")
        reason = _refusal(after, max_bytes)
        if reason:
            return RefusedFile(path.name, reason)
        body = fh.read(max_bytes + 1)
    if len(body) > max_bytes:
        return RefusedFile(path.name, f"grew over the {max_bytes}-byte cap while being read")
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return DroppedFile(path=path, body=body, content_type=content_type)


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
        doc = load_json(body)
        items = doc.get(self.items_key) if isinstance(doc, dict) else doc
        if not isinstance(items, list):
            raise RecordError(
                f"JSON file must be a list of reports or an object with a {self.items_key!r} list"
            )
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                yield BadRecord(
                    f"item {index}",
                    f"item is a {type(item).__name__}, not an object",
                    readable(repr(item)[:500]),
                )
            elif reason := undecodable(item):
                yield BadRecord(f"item {index}", f"item {reason}", readable(repr(item)[:500]))
            else:
                yield item | {"_line": f"item {index}"}

    def malform(self, body: bytes) -> bytes:
        if not self.is_json(body):
            return super().malform(body)
        doc = load_json(body)
        items = doc.get(self.items_key) if isinstance(doc, dict) else doc
        if not items:
            raise ConfigError("the fixture has no items to malform")
        items[len(items) // 2] = "<not an object>"
        return json.dumps(doc).encode("utf-8")
