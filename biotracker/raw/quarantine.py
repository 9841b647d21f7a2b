"""Quarantine: what failed a stage, with the reason, so nothing is dropped silently."""

from __future__ import annotations

import hashlib

from sqlalchemy import Connection

from biotracker.db.tables import quarantine
from biotracker.db.upsert import upsert
from biotracker.schema import QuarantineItem

_EXCERPT = 2000


def quarantine_item(conn: Connection, item: QuarantineItem) -> str:
    """Store ``item`` (idempotent: the same failure of the same payload is stored once)."""
    key = "|".join([item.source, item.stage, item.what, item.raw_sha256 or ""])
    qid = hashlib.sha256(key.encode()).hexdigest()
    row = item.model_dump() | {"quarantine_id": qid, "excerpt": item.excerpt[:_EXCERPT]}
    upsert(conn, quarantine, [row])
    return qid
