"""Values in batches for ``IN (...)`` lists: every stage reads rows by id lists that can run to
hundreds of thousands, and one statement's bound parameters are limited (SQLite's default is
32,766); batches of 500 keep each statement short and its compiled form cached."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, RowMapping, Select

__all__ = ["IN_BATCH", "in_batches", "select_in"]

IN_BATCH = 500
T = TypeVar("T")


def in_batches(values: Iterable[T], size: int = IN_BATCH) -> Iterator[list[T]]:
    """``values`` in their order, as lists of at most ``size`` (callers sort them when the
    statements should be the same on every run)."""
    batch: list[T] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def select_in(
    conn: Connection, query: Select, column: ColumnElement, values: Iterable[Any]
) -> Iterator[RowMapping]:
    """The rows of ``query`` for ``column IN values`` (deduplicated and sorted, so the statements are
    the same on every run), one batch of values per statement."""
    for batch in in_batches(sorted(set(values))):
        yield from conn.execute(query.where(column.in_(batch))).mappings()
