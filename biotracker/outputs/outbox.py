"""The durable record of every email: which messages wait, which may have been delivered, which were.

A message is one ``.eml`` file that moves between three folders under ``<out>/mail/``; the folder
is its state, and every move is an atomic rename followed by an ``fsync`` of both folders, so the
record survives a kill at any instant:

- ``outbox/``: stored, never handed to a server's DATA command: safe to send (again).
- ``sending/``: the DATA command was started. The server may have taken the message (its "250"
  reply can be lost with the connection or with our process), so it is **never sent again
  automatically**: an operator checks the recipient's mailbox for its Message-ID and then runs
  ``biotracker mail send-outbox --resend-in-doubt`` if it did not arrive.
- ``sent/``: the server accepted the DATA ("250"): never sent again.

On an object store (``BIOTRACKER_STORAGE_URL``) the same folders are key prefixes: a store is one
PUT and a move is a copy then a delete, so a kill between the two leaves the message in both
folders, which :meth:`Outbox.state_of` reads as its furthest state (never sent twice).

Message names come from :func:`~biotracker.outputs.mail.message_name`, built from subscriber keys
(``[a-z0-9-]``), so a name never leaves its folder; :func:`_checked` still refuses anything else.
"""

from __future__ import annotations

import os
import re
from enum import StrEnum
from pathlib import Path

from biotracker import storage
from biotracker.storage import StoragePath

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*\.eml")


class MessageState(StrEnum):
    """Where a message is in its life; the value is its folder name."""

    QUEUED = "outbox"
    IN_DOUBT = "sending"
    SENT = "sent"


def _checked(name: str) -> str:
    if not _NAME.fullmatch(name) or ".." in name:
        raise ValueError(f"not an outbox message name: {name!r}")
    return name


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Outbox:
    """The three folders of ``root`` (``<out>/mail``) and the moves between them."""

    def __init__(self, root: StoragePath) -> None:
        self.root = root

    def folder(self, state: MessageState) -> StoragePath:
        path = self.root / state.value
        path.mkdir(parents=True, exist_ok=True)
        return path

    def path(self, name: str, state: MessageState) -> StoragePath:
        return self.folder(state) / _checked(name)

    def state_of(self, name: str) -> MessageState | None:
        """The state of ``name``; a message found in two folders (a kill between the two renames of
        a move cannot leave that, but a copy by hand can) counts as its furthest state."""
        for state in (MessageState.SENT, MessageState.IN_DOUBT, MessageState.QUEUED):
            if (self.root / state.value / _checked(name)).is_file():
                return state
        return None

    def store(self, name: str, data: bytes) -> StoragePath:
        """Write ``data`` to the outbox durably (temporary file, fsync, rename, fsync the folder)."""
        target = self.path(name, MessageState.QUEUED)
        if not isinstance(target, Path):
            storage.write_bytes(target, data)
            return target
        tmp = target.with_name(f".{target.name}.tmp")
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
        return target

    def move(self, name: str, source: MessageState, target: MessageState) -> StoragePath:
        """Atomically move ``name`` from ``source`` to ``target``, durably."""
        old, new = self.path(name, source), self.path(name, target)
        if not isinstance(old, Path) or not isinstance(new, Path):
            return storage.move(old, new)
        os.replace(old, new)
        _fsync_dir(new.parent)
        _fsync_dir(old.parent)
        return new

    def names(self, state: MessageState) -> list[str]:
        folder = self.root / state.value
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.glob("*.eml") if _NAME.fullmatch(p.name))
