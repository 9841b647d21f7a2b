"""Content-addressed raw archive: every payload is stored before anything parses it.

Bytes go to ``var/raw/<aa>/<bb>/<sha256>``; the ``raw_payloads`` row records where they came from.
Identical bytes are stored once, so fetching the same thing twice adds nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import Connection, select

from biotracker.db.tables import raw_payloads
from biotracker.db.upsert import upsert
from biotracker.errors import BiotrackerError
from biotracker.schema import RawPayload
from biotracker.storage import StoragePath, write_bytes


class RawPayloadMissing(BiotrackerError):
    """The archive has a row but not the bytes (the var/raw folder was moved or pruned)."""


def payload_path(raw_dir: StoragePath, sha256: str) -> StoragePath:
    return raw_dir / sha256[:2] / sha256[2:4] / sha256


def store_payload(
    conn: Connection,
    raw_dir: StoragePath,
    *,
    source: str,
    url: str,
    body: bytes,
    http_status: int,
    fetched_at: dt.datetime,
    content_type: str | None = None,
) -> tuple[RawPayload, bool]:
    """Archive ``body``; return its record and whether it was new (False: this source sent these bytes before).

    The bytes are stored once whoever sends them; the row is per (bytes, source), so identical
    payloads from two sources are each normalised by their own connector.
    """
    sha = hashlib.sha256(body).hexdigest()
    path = payload_path(raw_dir, sha)
    if not path.exists():
        write_bytes(path, body)  # atomic: a killed run never leaves half a payload under its hash
    record = RawPayload(
        sha256=sha,
        source=source,
        url=url,
        fetched_at=fetched_at,
        http_status=http_status,
        size=len(body),
        # The server's header, kept as a hint only: cut to the column's width, so no header fails the insert.
        content_type=content_type[:200] if content_type else None,
    )
    existed = conn.execute(
        select(raw_payloads.c.sha256).where(raw_payloads.c.sha256 == sha, raw_payloads.c.source == source)
    ).first()
    if existed is None:
        upsert(conn, raw_payloads, [record.model_dump()], update=False)
    return record, existed is None


def read_payload(raw_dir: StoragePath, sha256: str) -> bytes:
    path = payload_path(raw_dir, sha256)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise RawPayloadMissing(
            f"raw payload {sha256} is recorded in the database but {path} is missing; restore var/raw "
            "from backup or re-fetch the source with `biotracker ingest`"
        ) from None
