"""Checks of option values shared by every command, so a bad value is a usage error (exit 2, one
line), never a traceback from deep inside a stage.

Use them as typer callbacks (``typer.Option(None, callback=iso_day)``); numbers take typer's own
``min=``/``max=`` instead.
"""

from __future__ import annotations

import datetime as dt

import typer

#: Longest look-back any command accepts, in days (ten years); more is a typo, not a wish.
MAX_LOOKBACK_DAYS = 3660
#: Years a date option may name: outbreaks reported on the web, with room on both sides. (Year 1
#: or 9999 would overflow the window arithmetic of every stage.)
FIRST_YEAR, LAST_YEAR = 1900, 2199


def _in_range(value: str, year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise typer.BadParameter(f"{value!r} is outside the years {FIRST_YEAR} to {LAST_YEAR}")


def iso_day(value: str | None) -> str | None:
    """An ISO calendar date (YYYY-MM-DD), checked; returned unchanged."""
    if value is None:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date; write it as YYYY-MM-DD, e.g. 2024-06-17"
        ) from None
    _in_range(value, day.year)
    return value


def iso_moment(value: str | None) -> str | None:
    """An ISO date or date-time (UTC unless it says otherwise), checked; returned unchanged."""
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date or time; write it as YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)"
        ) from None
    _in_range(value, moment.year)
    return value


def one_of(*choices: str):
    """A callback accepting only ``choices`` (or nothing)."""

    def check(value: str | None) -> str | None:
        if value is not None and value not in choices:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}")
        return value

    return check
