"""Stage 4: score weekly series and store signals (``score_window``).

Weekly counts per (disease, country) come from all incidents, so baselines exist from the first
run; only weeks starting inside the window are written. The method is EARS C2 (R `surveillance`
``earsC``: baseline weeks t-9..t-3, upper bound mean + z(1-alpha)·sd).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import norm
from sqlalchemy import Engine

from biotracker.db.tables import signals
from biotracker.db.upsert import upsert
from biotracker.incidents.series import load_incident_frame, weekly_counts
from biotracker.schema import Signal, Window

log = logging.getLogger(__name__)

METHOD = "earsC2"
CONTROL = {"method": "C2", "baseline": 7, "alpha": 0.001, "minSigma": 0}


@dataclass
class ScoreSummary:
    series: int = 0
    weeks: int = 0
    signals: int = 0
    alarms: int = 0

    def summary(self) -> dict[str, int]:
        return asdict(self)


def ears_c2(observed: np.ndarray, baseline: int = 7, alpha: float = 0.001, min_sigma: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(upper bound, mean) for every week of every column; NaN where the baseline is incomplete.

    ``observed`` is weeks × series. Vectorised over series with a sliding window.
    """
    weeks, n_series = observed.shape
    lag = 2  # C2's guard band
    upper = np.full((weeks, n_series), np.nan)
    mean = np.full((weeks, n_series), np.nan)
    start = baseline + lag
    if weeks <= start:
        return upper, mean
    windows = np.lib.stride_tricks.sliding_window_view(observed.astype(float), baseline, axis=0)
    # windows[i] covers weeks i .. i+baseline-1; week t uses i = t - baseline - lag.
    base = windows[: weeks - start]
    mu = base.mean(axis=-1)
    sd = np.maximum(base.std(axis=-1, ddof=1), min_sigma)
    mean[start:] = mu
    upper[start:] = mu + norm.ppf(1 - alpha) * sd
    return upper, mean


def score_window(engine: Engine, window: Window) -> ScoreSummary:
    """Signals for every series week starting in ``window`` (observed > 0 or alarmed)."""
    frame = load_incident_frame(engine)
    summary = ScoreSummary()
    counts = weekly_counts(frame, window.end.date())
    if counts.empty:
        return summary
    upper, mean = ears_c2(counts.to_numpy(), CONTROL["baseline"], CONTROL["alpha"], CONTROL["minSigma"])
    in_window = (counts.index >= window.start.replace(tzinfo=None)) & (counts.index < window.end.replace(tzinfo=None))
    rows = []
    for col, key in enumerate(counts.columns):
        for row in np.flatnonzero(in_window):
            observed = int(counts.iat[row, col])
            bound = upper[row, col]
            alarm = None if np.isnan(bound) else bool(observed > bound)
            if observed == 0 and not alarm:
                continue
            period: dt.date = counts.index[row].date()
            signal = Signal(
                series_key=key,
                period_start=period,
                observed=observed,
                expected=None if np.isnan(mean[row, col]) else round(float(mean[row, col]), 6),
                upperbound=None if np.isnan(bound) else round(float(bound), 6),
                alarm=alarm,
                method=METHOD,
                details={"control": CONTROL, "baseline_weeks": [
                    (period - dt.timedelta(weeks=9)).isoformat(), (period - dt.timedelta(weeks=3)).isoformat()]},
            )
            rows.append(signal.model_dump() | {"signal_id": signal.signal_id})
            summary.alarms += int(bool(alarm))
        summary.weeks += int(in_window.sum())
    summary.series = len(counts.columns)
    with engine.begin() as conn:
        upsert(conn, signals, rows)
    summary.signals = len(rows)
    log.info("scoring: %d series, %d signals, %d alarms in %s", summary.series, summary.signals, summary.alarms, window)
    return summary
