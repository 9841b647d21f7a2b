"""The detector contract of docs/CONVENTIONS.md on top of :func:`detect`.

R's algorithms refit their baseline every evaluated week, so "fitting" is remembering the
history; what the class adds is the contract's shape: hyper-parameters validated once at
construction (a frozen config), ``fit(history)`` returning ``self`` with learned attributes
ending in ``_``, and ``score`` for the newest weeks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from biotracker.errors import ConfigError, NotFittedError
from biotracker.scoring.detectors.api import DetectionResult, detect
from biotracker.scoring.detectors.control import Control, parse_control


class SurveillanceDetector:
    """One R ``surveillance`` method with one control list, applied to many series at once.

    >>> det = SurveillanceDetector("earsC", {"method": "C2"}).fit(history)   # doctest: +SKIP
    >>> det.score(this_week).alarm                                           # doctest: +SKIP
    """

    def __init__(self, method: str, control: Mapping[str, Any] | None = None, freq: int = 52) -> None:
        self.method = method
        self.control = dict(control or {})
        self.freq = freq
        self.config: Control = parse_control(method, {k: v for k, v in self.control.items() if k != "range"})

    def fit(self, history: np.ndarray, dates: np.ndarray | None = None) -> SurveillanceDetector:
        """Remember the counts (series x weeks) and, for dated series, the week dates."""
        self.history_ = np.array(history, dtype=float, ndmin=2, copy=True)
        self.dates_ = None if dates is None else np.asarray(dates, dtype="datetime64[D]").copy()
        return self

    def score(
        self,
        series: np.ndarray | None = None,
        at: tuple[int, int] | None = None,
        dates: np.ndarray | None = None,
    ) -> DetectionResult:
        """Score new weeks ``series`` (appended to the history) or, without them, the weeks ``at``.

        ``at`` is 1-based and inclusive over history + new weeks; by default the new weeks (or the
        last history week). Inputs are never modified.
        """
        if not hasattr(self, "history_"):
            raise NotFittedError("call fit(history) before score(); the baseline comes from the history")
        observed = self.history_
        all_dates = self.dates_
        if series is not None:
            new = np.array(series, dtype=float, ndmin=2)
            if new.shape[0] != observed.shape[0]:
                raise ConfigError(f"score() got {new.shape[0]} series but fit() saw {observed.shape[0]}")
            observed = np.hstack([observed, new])
            if all_dates is not None:
                if dates is None:
                    raise ConfigError("this detector was fitted on dated series: pass the new weeks' dates")
                all_dates = np.concatenate([all_dates, np.asarray(dates, dtype="datetime64[D]")])
        n_weeks = observed.shape[1]
        if at is None:
            first = self.history_.shape[1] + 1 if series is not None else n_weeks
            at = (first, n_weeks)
        return detect(self.method, observed, all_dates, self.control, at, freq=self.freq)
