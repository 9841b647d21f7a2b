"""Insert-or-update for SQLite and PostgreSQL: how every stage stays idempotent."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

_BATCH = 5000


def upsert(
    conn: Connection,
    table: Table,
    rows: Iterable[Mapping[str, Any]],
    keys: Sequence[str] | None = None,
    *,
    update: bool = True,
) -> int:
    """Write ``rows``; on a key conflict update the other columns (or leave the row, ``update=False``)."""
    keys = list(keys or [c.name for c in table.primary_key.columns])
    batch: list[Mapping[str, Any]] = []
    written = 0
    for row in rows:
        batch.append(row)
        if len(batch) >= _BATCH:
            written += _flush(conn, table, batch, keys, update)
            batch = []
    if batch:
        written += _flush(conn, table, batch, keys, update)
    return written


def dialect_insert(conn: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """The INSERT of ``conn``'s dialect, which has ``on_conflict_do_update``/``_nothing``."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"upsert supports SQLite and PostgreSQL, not {conn.dialect.name}")


def _flush(
    conn: Connection, table: Table, batch: list[Mapping[str, Any]], keys: list[str], update: bool
) -> int:
    """One statement compiled once and executed for every row of the batch (executemany): a
    multi-row VALUES statement is compiled afresh per batch, which costs more than the writes."""
    stmt = dialect_insert(conn, table)
    columns = [c for c in batch[0] if c not in keys]
    if update and columns:
        stmt = stmt.on_conflict_do_update(index_elements=keys, set_={c: stmt.excluded[c] for c in columns})
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=keys)
    conn.execute(stmt, batch)
    return len(batch)
