"""One storage layer for every file a task reads or writes outside the database (fsspec).

The raw archive, the outputs (digests, exports, the mail outbox), the HTTP validators and the models
live under one root: ``BIOTRACKER_HOME`` by default, or ``BIOTRACKER_STORAGE_URL`` when tasks run on
several machines (Celery workers, Kubernetes pods) and must share their files: a mounted shared
filesystem (a plain path) or an object store (``s3://bucket/prefix``, any fsspec protocol; options
such as ``endpoint_url`` in ``BIOTRACKER_STORAGE_OPTIONS``, credentials from the usual AWS
variables, instance role or Airflow connection, never from this code).

A local root stays a plain :class:`pathlib.Path`, so a single-machine install behaves exactly as
before; any other URL becomes a :class:`upath.UPath`, which has the same path API over fsspec. The
two functions below are what plain ``Path`` methods cannot give on both: an atomic write (a killed
task never leaves half a file under its final name) and a move.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeAlias
from urllib.parse import urlsplit

from upath import UPath

from biotracker.errors import ConfigError

#: A file or folder in the storage: a local path, or an fsspec path (s3://, gs://, memory://, ...).
StoragePath: TypeAlias = Path | UPath

LOCAL_PROTOCOLS = {"", "file", "local"}


def parse_options(text: str) -> dict[str, Any]:
    """``BIOTRACKER_STORAGE_OPTIONS``: a JSON object of fsspec options (e.g. ``{"endpoint_url": ...}``)."""
    if not text.strip():
        return {}
    try:
        options = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"BIOTRACKER_STORAGE_OPTIONS is not JSON ({exc}); write a JSON object") from exc
    if not isinstance(options, dict):
        raise ConfigError('BIOTRACKER_STORAGE_OPTIONS must be a JSON object, e.g. {"endpoint_url": "..."}')
    return options


def location(url: str | os.PathLike[str], options: Mapping[str, Any] | None = None) -> StoragePath:
    """The storage path for ``url``: a ``Path`` for local paths and ``file://`` URLs, else a ``UPath``."""
    text = os.fspath(url)
    protocol = urlsplit(text).scheme if "://" in text else ""
    if protocol in LOCAL_PROTOCOLS:
        return Path(text.removeprefix("file://").removeprefix("local://")).expanduser()
    try:
        return UPath(text, **dict(options or {}))
    except (ImportError, ValueError) as exc:
        raise ConfigError(
            f"cannot open storage {text!r}: {exc}. Install the fsspec driver for {protocol}:// "
            "(s3fs for s3://) or fix BIOTRACKER_STORAGE_URL"
        ) from exc


def is_local(path: StoragePath) -> bool:
    return isinstance(path, Path)


def write_bytes(path: StoragePath, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: locally via a temporary file and rename; an object store
    makes a single PUT visible all at once."""
    if isinstance(path, Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_text(path: StoragePath, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def move(source: StoragePath, target: StoragePath) -> StoragePath:
    """Move a file (atomic rename locally; copy then delete on an object store); returns ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(source, Path) and isinstance(target, Path):
        return source.replace(target)
    if isinstance(source, UPath) and isinstance(target, UPath) and source.protocol == target.protocol:
        return source.rename(target)
    write_bytes(target, source.read_bytes())  # across storages: copy, then delete
    source.unlink()
    return target
