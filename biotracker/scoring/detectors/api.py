"""One entry point for every method: ``detect(method, observed, dates, control, range_)``.

The pipeline scores thousands of series a day, so the unit of work is a matrix
(series x weeks) that shares one time axis, and the output has the same shape as R's ``sts``
result: one row per series, one column per evaluated week.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from biotracker.errors import ConfigError
from biotracker.scoring.detectors import cusum, ears, farrington, farrington_flexible
from biotracker.scoring.detectors.control import (
    METHODS,
    CusumControl,
    EarsControl,
    FarringtonControl,
    FarringtonFlexibleControl,
    parse_control,
    parse_range,
)
from biotracker.scoring.detectors.reference_weeks import as_date_list


class DegenerateHistoryWarning(UserWarning):
    """Some series have an all-zero history before the range: their bounds are degenerate (expected
    in sparse event data; callers may log it quietly, unlike other warnings)."""


@dataclass(frozen=True)
class DetectionResult:
    """Results for the evaluated weeks ``t`` (1-based), arrays of shape (n_series, len(t)).

    ``alarm`` is 0.0/1.0 with NaN where R gives NA; ``upperbound`` and ``expected`` are NaN where
    missing (never 0 unless R says 0). ``expected`` is R's predictive mean for farringtonFlexible,
    the in-control mean ``m`` for cusum, and — not returned by R — the baseline mean for earsC
    and the fitted mean for the old farrington. ``extra`` holds method-specific diagnostics
    (``score``, ``pvalue``, ``phi``, ``trend``, ``cusum``).
    """

    method: str
    t: np.ndarray
    upperbound: np.ndarray
    expected: np.ndarray
    alarm: np.ndarray
    control: Any
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    observed: np.ndarray | None = None

    @property
    def score(self) -> np.ndarray:
        """How far past the bound each week is; > 1 means beyond the bound.

        R's own score where R defines one (farringtonFlexible, including its log-scale quirk
        for nbPlugin), S_t / h for cusum, else (y - expected) / (upperbound - expected).
        """
        if "score" in self.extra:
            return self.extra["score"]
        if "cusum" in self.extra:
            return self.extra["cusum"] / self.control.h
        with np.errstate(divide="ignore", invalid="ignore"):
            return (self.observed - self.expected) / (self.upperbound - self.expected)

    @property
    def r_defines_expected(self) -> bool:
        """Whether R itself returns ``expected`` (the CSV writes it only then, to mirror R)."""
        return self.method in ("farringtonFlexible", "cusum")


def _points(method: str, range_: Any, n_weeks: int, control: Any) -> list[int]:
    if range_ is None:
        if isinstance(control, FarringtonFlexibleControl):
            start = 52 * control.b + control.w + 1
        elif isinstance(control, FarringtonControl):
            start = 52 * control.b - control.w
        elif isinstance(control, EarsControl):
            start = control.baseline + {"C1": 1, "C2": 3, "C3": 5}[control.method]
        else:
            raise ConfigError('cusum needs a range: give range_=(start, end) or "range": [start, end]')
        if start > n_weeks:
            raise ConfigError(
                f"{method}: the default range starts at t={start}, beyond the {n_weeks} weeks given"
            )
        return list(range(start, n_weeks + 1))
    parsed = parse_range(list(range_), n_weeks)
    if isinstance(parsed, tuple):
        return list(range(parsed[0], parsed[1] + 1))
    return list(parsed)


def detect(
    method: str,
    observed: np.ndarray,
    dates: np.ndarray | Sequence | None = None,
    control: Mapping[str, Any] | None = None,
    range_: tuple[int, int] | Sequence[int] | None = None,
    *,
    population: np.ndarray | None = None,
    freq: int = 52,
) -> DetectionResult:
    """Run ``method`` on every row of ``observed`` (n_series x n_weeks, NaN = missing).

    ``dates``: the weeks' dates (datetime64[D], one per column) for date-indexed series, which
    switches on R's date-based reference weeks; None for week-indexed series. ``control``: an R
    control list as a dict (R names, JSON null = R NULL); it may carry ``"range"``.
    ``range_``: (start, end), 1-based and inclusive, or R's full vector; overrides
    ``control["range"]``. ``population``: same shape as ``observed``, used only by
    farringtonFlexible with ``populationOffset = TRUE``.
    """
    observed = np.array(observed, dtype=float, ndmin=2, copy=True)
    if observed.ndim != 2:
        raise ConfigError("observed must be a 2-D array: one row per series, one column per week")
    n_weeks = observed.shape[1]
    if np.any(observed[~np.isnan(observed)] < 0):
        raise ConfigError("observed counts must be non-negative")
    control = dict(control or {})
    if range_ is None and "range" in control and control["range"] is not None:
        range_ = control["range"]
    control.pop("range", None)
    cfg = parse_control(method, control)
    date_list = None
    if dates is not None:
        dates_arr = np.asarray(dates, dtype="datetime64[D]")
        if dates_arr.shape != (n_weeks,):
            raise ConfigError(f"dates must have one entry per week ({n_weeks}), got shape {dates_arr.shape}")
        # R: a series with a missing date is week-indexed
        date_list = None if np.isnat(dates_arr).any() else as_date_list(dates_arr)
    points = _points(method, range_, n_weeks, cfg)
    _warn_short(method, observed, points)
    if isinstance(cfg, EarsControl):
        res = ears.run(observed, points, cfg)
        points = sorted(points)
    elif isinstance(cfg, CusumControl):
        res = cusum.run(observed, points, cfg)
    elif isinstance(cfg, FarringtonControl):
        res = farrington.run(observed, date_list, points, cfg, freq=freq)
    else:
        pop = None if population is None else np.asarray(population, dtype=float)
        res = farrington_flexible.run(observed, date_list, points, cfg, population=pop, freq=freq)
    core = {"upperbound", "expected", "alarm"}
    return DetectionResult(
        method=method,
        t=np.asarray(points),
        upperbound=res["upperbound"],
        expected=res["expected"],
        alarm=res["alarm"],
        control=cfg,
        extra={k: v for k, v in res.items() if k not in core},
        observed=observed[:, np.asarray(points) - 1],
    )


def _warn_short(method: str, observed: np.ndarray, points: list[int]) -> None:
    """The contract: warn, do not crash, on all-zero histories (bounds are then degenerate)."""
    history = observed[:, : min(points) - 1]
    if history.shape[1] == 0:
        return
    zero = np.nansum(history, axis=1) == 0
    if zero.any():
        warnings.warn(
            f"{method}: {int(zero.sum())} of {len(zero)} series have an all-zero history before "
            "the range; their bounds are degenerate",
            DegenerateHistoryWarning,
            stacklevel=3,
        )


__all__ = ["METHODS", "DetectionResult", "detect"]
