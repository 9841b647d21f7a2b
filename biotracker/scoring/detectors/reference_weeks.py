"""Which past weeks the Farrington methods learn from, and in which seasonal block each falls.

The reference weeks depend only on the time axis (week index or dates) and the evaluated week,
never on the counts, so they are computed once per evaluated week and shared by every series —
that is what lets the GLM fits run batched.

Two R behaviours are reproduced on purpose (README items 1 and 2):

* dated series go back i calendar *years* (``seq(date, by = "-1 year")``; 29 February rolls to
  1 March) and snap to the nearest date with the same weekday, so the lag is 52 or 53 weeks;
* ``farringtonFlexible``'s ``noPeriods`` factor cuts each gap between windows into
  ``noPeriods - 1`` blocks exactly as R's ``blocks()`` does, including its use of R's ``a:b``
  (which counts *down* when ``b < a``) for empty blocks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from biotracker.errors import ConfigError


def _r_colon(a: int, b: int) -> list[int]:
    """R's ``a:b`` (inclusive, decreasing when b < a)."""
    return list(range(a, b + 1)) if a <= b else list(range(a, b - 1, -1))


def _years_back(day: dt.date, years: int) -> dt.date:
    """``seq(day, by = "-1 year")[years + 1]``: same month/day, 29 Feb normalised to 1 Mar."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a non-leap year: POSIXlt normalisation gives 1 March
        return dt.date(day.year - years, 3, 1)


def _snap_weekday(day: dt.date, target_weekday: int) -> dt.date:
    """Move ``day`` to the nearest date with ``target_weekday`` (never a tie: 7 is odd)."""
    forward = (target_weekday - day.weekday()) % 7
    backward = (day.weekday() - target_weekday) % 7
    return day + dt.timedelta(days=forward if forward < backward else -backward)


def _as_dates(dates: np.ndarray) -> list[dt.date]:
    return [d.item() for d in dates.astype("datetime64[D]")]


@dataclass(frozen=True)
class FlexibleDesign:
    """Reference data of one evaluated week for ``farringtonFlexible``.

    ``index``: 0-based positions of the weeks used; ``level``: their seasonal block (``noPeriods``
    is the level of the windows around the reference weeks); ``wtime``: the GLM time covariate of
    those weeks and ``wtime0`` its value at the evaluated week.
    """

    index: np.ndarray
    level: np.ndarray
    wtime: np.ndarray
    wtime0: float


def flexible_reference_points(k: int, dates: list[dt.date] | None, b: int, freq: int) -> list[int]:
    """1-based positions of the evaluated week and its b reference weeks, newest first."""
    if dates is None:
        points = [k - freq * i for i in range(b + 1)]
        if points[-1] < 1:
            raise ConfigError(
                f"farringtonFlexible at t={k}: the reference week b={b} years back does not exist; "
                f"start the range at t >= {freq * b + 1} or decrease b"
            )
        return points
    day = dates[k - 1]
    lookup = {d: i + 1 for i, d in enumerate(dates)}
    points = []
    for i in range(b + 1):
        ref = _snap_weekday(_years_back(day, i), day.weekday()) if i else day
        if ref not in lookup:
            raise ConfigError(
                f"farringtonFlexible at t={k} ({day}): the reference week {ref} does not exist; "
                "decrease b or start the range later"
            )
        points.append(lookup[ref])
    return points


def flexible_design(
    k: int,
    dates: list[dt.date] | None,
    *,
    b: int,
    w: int,
    no_periods: int,
    past_weeks_not_included: int,
    freq: int = 52,
) -> FlexibleDesign:
    """R's ``algo.farrington.data.glm`` + ``blocks`` for evaluated week ``k`` (1-based)."""
    n = k if dates is None else len(dates)
    n = max(n, k)
    ref = flexible_reference_points(k, dates, b, freq)
    factors = np.full(n + 1, np.nan)  # 1-based positions; [0] is R's ignored zero index
    now = ref[0]
    p = no_periods

    def assign(positions: list[int], value: float) -> None:
        if any(pos < 0 for pos in positions):
            raise ConfigError(
                f"farringtonFlexible at t={k}: the window of ±w={w} weeks around a reference week "
                "starts before the series; start the range later or decrease b or w"
            )
        for pos in positions:
            if pos > n:
                raise ConfigError(f"farringtonFlexible at t={k}: reference window runs past the series end")
            factors[pos] = value

    assign(_r_colon(now - w, now), p)
    for i in range(1, b + 1):
        ref_week = ref[i]
        assign(_r_colon(ref_week - w, ref_week + w), p)
        if p != 1:
            period = ref[i - 1] - 2 * w - 1 - ref_week
            if period < p - (2 * w + 1):
                raise ConfigError(
                    f"farringtonFlexible: noPeriods={p} is too big for w={w} (R: 'Number of factors too big!')"
                )
            length, rest = divmod(period, p - 1)
            lengths = [length + (1 if j < rest else 0) for j in range(p - 1)]
            cum = np.concatenate([[0], np.cumsum(lengths)]).astype(int)
            for j in range(1, p):
                start = ref_week + w + 1 + int(cum[j - 1])
                stop = ref_week + w + 1 + int(cum[j]) - 1
                assign(_r_colon(start, stop), j)
    factors = factors[1:]  # back to 0-based
    blocks_id = factors.copy()
    lo = k - past_weeks_not_included
    for pos in _r_colon(lo, k):
        if 1 <= pos <= n:
            blocks_id[pos - 1] = np.nan
    index = np.flatnonzero(~np.isnan(blocks_id))
    if dates is None:
        wtime = (index + 1).astype(float)
        wtime0 = float(k)
    else:
        ordinal = np.array([d.toordinal() for d in dates], dtype=float)
        step = ordinal[1] - ordinal[0] if len(ordinal) > 1 else 7.0
        wtime = (ordinal[index] - ordinal[index[0]]) / step
        wtime0 = (ordinal[k - 1] - ordinal[index[0]]) / step
    return FlexibleDesign(index=index, level=factors[index].astype(int), wtime=wtime, wtime0=wtime0)


def farrington_reference_index(
    k: int, dates: list[dt.date] | None, *, b: int, w: int, freq: int = 52
) -> np.ndarray:
    """0-based positions of the old ``farrington()``'s b windows of 2w+1 weeks (missing ones dropped).

    Week-indexed: t - 52 i ± w, positions < 1 dropped. Dated: ``refvalIdxByDate``: each window
    date (i years back ± j weeks) snapped to the evaluated week's weekday and matched by date.
    """
    if dates is None:
        pos = [k - freq * i + j for i in range(b, 0, -1) for j in range(-w, w + 1)]
        return np.array([q - 1 for q in pos if q > 0], dtype=int)
    day = dates[k - 1]
    lookup = {d: i for i, d in enumerate(dates)}
    out: list[int] = []
    for i in range(1, b + 1):
        centre = _years_back(day, i)
        for j in range(-w, w + 1):
            ref = _snap_weekday(centre + dt.timedelta(weeks=j), day.weekday())
            if ref in lookup:
                out.append(lookup[ref])
    return np.array(out, dtype=int)


def as_date_list(dates: np.ndarray | None) -> list[dt.date] | None:
    """Normalise the optional date axis (datetime64 array, or None for week-indexed series)."""
    if dates is None:
        return None
    return _as_dates(np.asarray(dates))
