"""Stage 4: score weekly series and store signals (``score_window``).

Weekly counts per (disease, country) come from all incidents of the scope, so baselines exist from
the first run; only weeks starting inside the window are written, and with ``changes`` only the
series they touch are read and scored. Each series is scored by the method that
``methods.toml`` assigns it (R ``surveillance`` algorithms from ``biotracker.scoring.detectors``),
all series of one method in one vectorised call.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import logging
import tomllib
import warnings
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, delete, select

from biotracker.db.tables import incident_reports, signals
from biotracker.db.upsert import upsert
from biotracker.errors import ConfigError
from biotracker.incidents.build import first_week
from biotracker.incidents.changes import Changes
from biotracker.incidents.scopes import INTERNAL, Scope
from biotracker.incidents.series import counts_table, load_weekly_counts, split_series_key
from biotracker.schema import Signal, Window
from biotracker.scoring.detectors import detect

log = logging.getLogger(__name__)
METHODS_FILE = Path(__file__).with_name("methods.toml")


@dataclass(frozen=True)
class MethodChoice:
    method: str
    control: tuple[tuple[str, Any], ...]

    @property
    def control_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.control}

    @property
    def label(self) -> str:
        """``earsC2`` for EARS (its variant matters to a reader), else the R function name."""
        if self.method == "earsC":
            return f"earsC{str(self.control_dict.get('method', 'C1')).removeprefix('C')}"
        return self.method


@dataclass
class ScoreSummary:
    series: int = 0
    weeks: int = 0
    signals: int = 0
    alarms: int = 0
    #: passed on unchanged: signals change only in touched series, from their earliest touched week
    changes: Changes | None = None

    def summary(self) -> dict[str, object]:
        out: dict[str, object] = {k: v for k, v in asdict(self).items() if k != "changes"}
        return out | {"changes": self.changes.summary() if self.changes else None}


def _choice(entry: dict[str, Any], where: str) -> MethodChoice:
    try:
        control = {
            k: tuple(v) if isinstance(v, list) else v for k, v in dict(entry.get("control", {})).items()
        }
        return MethodChoice(entry["method"], tuple(sorted(control.items())))
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"{where} needs `method` and a `control` table: {exc}") from exc


@cache
def load_method_config(path: Path = METHODS_FILE) -> dict[str, Any]:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the scoring method file {path}: {exc}") from exc
    return {
        "long": _choice(doc["long"], f"{path}: [long]"),
        "min_history_weeks": int(doc["long"].get("min_history_weeks", 264)),
        "short": _choice(doc["short"], f"{path}: [short]"),
        "overrides": [
            (o["series"], _choice(o, f"{path}: [[override]] {o.get('series')}"))
            for o in doc.get("override", [])
        ],
    }


def choose_method(series_key: str, history_weeks: int, config: dict[str, Any]) -> MethodChoice:
    """The configured method for a series with ``history_weeks`` weeks since its first incident."""
    for pattern, choice in config["overrides"]:
        if fnmatch.fnmatchcase(series_key, pattern):
            return choice
    return config["long"] if history_weeks >= config["min_history_weeks"] else config["short"]


def _baseline_text(choice: MethodChoice, period: dt.date) -> str:
    c = choice.control_dict
    if choice.method == "earsC":
        lag = {"C1": 1, "C2": 3, "C3": 5}.get(str(c.get("method", "C1")), 1)
        base = int(c.get("baseline", 7))
        first = period - dt.timedelta(weeks=lag + base - 1)
        last = period - dt.timedelta(weeks=lag)
        return f"weeks {first.isoformat()} to {last.isoformat()}"
    if choice.method in ("farringtonFlexible", "farrington"):
        return f"the same weeks ±{c.get('w', 3)} in each of the previous {c.get('b', 5)} years"
    return "the weeks before the scoring window"


def _touched_series(engine: Engine, scope: str, changes: Changes | None) -> set[str]:
    """Series with a disease that the changes touch (all of the scope's without changes, or when full)."""
    if changes is not None and not changes.full:
        return {k for k, _ in changes.series_weeks if split_series_key(k)[0] is not None}
    with engine.connect() as conn:
        keys = conn.execute(
            select(incident_reports.c.series_key)
            .where(incident_reports.c.scope == scope, incident_reports.c.disease.is_not(None))
            .distinct()
        ).scalars()
        return {k for k in keys if k is not None}


def score_window(
    engine: Engine, window: Window, *, scope: Scope = INTERNAL, changes: Changes | None = None
) -> ScoreSummary:
    """Signals for every series week starting in ``window`` (observed > 0 or alarmed).

    With ``changes`` (from ``build_incidents``), only the series they touch are read and scored:
    a series' signals depend on its own counts and the scope's first week alone. The window's
    signals of those series are replaced, so a series that lost its reports loses its signals.
    """
    summary = ScoreSummary(changes=changes)
    touched = _touched_series(engine, scope.key, changes)
    start, end = window.start.date(), window.end.date()
    with engine.begin() as conn:
        first = first_week(conn, scope.key, with_disease=True)
        for keys in _chunks(sorted(touched)):
            conn.execute(
                delete(signals).where(
                    signals.c.scope == scope.key,
                    signals.c.series_key.in_(keys),
                    signals.c.period_start >= start,
                    signals.c.period_start < end,
                )
            )
    if not touched or first is None:
        return summary
    counts = counts_table(load_weekly_counts(engine, touched, scope=scope.key), end, first)
    counts = counts.loc[:, counts.sum(axis=0) > 0] if not counts.empty else counts
    if counts.empty:
        return summary
    weeks = counts.index
    in_window = np.flatnonzero(
        (weeks >= window.start.replace(tzinfo=None)) & (weeks < window.end.replace(tzinfo=None))
    )
    if in_window.size == 0:
        return summary
    config = load_method_config()
    first_seen = {key: int(np.flatnonzero(counts[key].to_numpy() > 0)[0]) for key in counts.columns}
    groups: dict[MethodChoice, list[str]] = {}
    for key in counts.columns:
        history = int(in_window[-1]) - first_seen[key]
        groups.setdefault(choose_method(key, history, config), []).append(key)
    dates = np.asarray([d.date() for d in weeks], dtype="datetime64[D]")
    rows: list[dict[str, Any]] = []
    for choice, keys in sorted(groups.items(), key=lambda kv: kv[0].label):
        rows.extend(_score_group(choice, keys, counts, dates, in_window, summary))
    for row in rows:
        row["signal_id"] = scope.qualify(row["signal_id"])
        row["scope"] = scope.key
    summary.series = len(counts.columns)
    summary.weeks = len(in_window) * len(counts.columns)
    with engine.begin() as conn:
        upsert(conn, signals, rows)
    summary.signals = len(rows)
    log.info(
        "scoring [%s]: %d series, %d signals, %d alarms in %s",
        scope,
        summary.series,
        summary.signals,
        summary.alarms,
        window,
    )
    return summary


def _chunks(values: list[str], size: int = 500) -> list[list[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def _score_group(
    choice: MethodChoice,
    keys: list[str],
    counts: pd.DataFrame,
    dates: np.ndarray,
    in_window: np.ndarray,
    summary: ScoreSummary,
) -> list[dict[str, Any]]:
    observed = counts[keys].to_numpy(dtype=float).T
    control = choice.control_dict
    # The first week each method can score (R's default range start): earlier weeks stay unscored.
    min_t = {"earsC": int(control.get("baseline", 7)) + 3, "cusum": 2}.get(
        choice.method, 52 * int(control.get("b", 5)) + int(control.get("w", 3)) + 1
    )
    points = [int(i) + 1 for i in in_window if int(i) + 1 >= min_t]
    if not points:
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short/all-zero histories are expected in event data
        result = detect(choice.method, observed, dates, control, (points[0], points[-1]))
    rows = []
    for col, t in enumerate(result.t):
        period = dates[t - 1].astype(dt.date)
        for row, key in enumerate(keys):
            seen = int(observed[row, t - 1])
            bound = result.upperbound[row, col]
            alarm_value = result.alarm[row, col]
            alarm = None if np.isnan(alarm_value) else bool(alarm_value)
            if seen == 0 and not alarm:
                continue
            expected = result.expected[row, col]
            signal = Signal(
                series_key=key,
                period_start=period,
                observed=seen,
                expected=None if np.isnan(expected) else round(float(expected), 6),
                upperbound=None if np.isnan(bound) else round(float(bound), 6),
                alarm=alarm,
                method=choice.label,
                details={"control": control, "baseline": _baseline_text(choice, period)},
            )
            rows.append(signal.model_dump() | {"signal_id": signal.signal_id})
            summary.alarms += int(bool(alarm))
    return rows
