"""Numbers from feed fields (counts, latitude/longitude): one reader each, shared by every connector."""

from __future__ import annotations

import math
from typing import Any, Literal, overload

from biotracker.errors import RecordError
from biotracker.schema.models import MAX_COUNT

LATITUDE = (-90.0, 90.0)
LONGITUDE = (-180.0, 180.0)


def parse_coordinate(
    value: Any, bounds: tuple[float, float], column: str, *, strict: bool = True
) -> float | None:
    """The number in ``value`` if it lies within ``bounds``; blank gives None.

    Strict (validated sources such as law-enforcement intake): an unreadable or out-of-range value is
    a ``RecordError``, so the item is quarantined with the reason. Lenient (context feeds, tables
    that write "NA"): such a value gives None and the rest of the item is kept.
    """
    text = str(value if value is not None else "").strip()
    if not text:
        return None
    low, high = bounds
    try:
        number = float(text)
        if math.isnan(number):  # NaN compares unequal to every bound
            raise ValueError(text)
    except ValueError:
        if strict:
            raise RecordError(f"{column} {text!r} is not a number") from None
        return None
    if not low <= number <= high:
        if strict:
            raise RecordError(f"{column} {number} is outside [{low:g}, {high:g}]")
        return None
    return number


@overload
def parse_count(value: Any, column: str, *, required: Literal[True]) -> int: ...


@overload
def parse_count(value: Any, column: str, *, required: bool = False) -> int | None: ...


def parse_count(value: Any, column: str, *, required: bool = False) -> int | None:
    """A whole number in ``[0, MAX_COUNT]`` ("12", "12.0"); blank gives None unless ``required``.

    Anything else ("-500", "inf", "1e19", "12 cases") is a ``RecordError`` naming the column, so
    the item is quarantined with the reason; a sign is never dropped.
    """
    text = str(value if value is not None else "").strip()
    if not text and not required:
        return None
    try:
        number = int(float(text))
    except (ValueError, OverflowError):
        raise RecordError(f"{column} {text[:40]!r} is not a finite number") from None
    if number < 0:
        raise RecordError(f"{column} is negative ({number})")
    if number > MAX_COUNT:
        raise RecordError(f"{column} {number} is over {MAX_COUNT:,}: not a plausible count")
    return number
