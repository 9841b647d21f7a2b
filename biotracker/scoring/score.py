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
from dataclasses import dataclass, fields
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Engine, delete, select

from biotracker.db.batches import in_batches
from biotracker.db.tables import incident_reports, signals
from biotracker.db.upsert import upsert
from biotracker.errors import ConfigError
from biotracker.incidents.build import first_week
from biotracker.incidents.changes import Changes
from biotracker.incidents.scopes import INTERNAL, Scope
from biotracker.incidents.series import counts_table, week_axis
from biotracker.incidents.series_counts import first_weeks, weekly_counts_of
from biotracker.schema import Signal, Window
from biotracker.scoring.detectors import METHODS, detect, parse_control
from biotracker.scoring.detectors.api import DegenerateHistoryWarning
from biotracker.scoring.detectors.control import (
    Control,
    CusumControl,
    EarsControl,
    FarringtonControl,
    FarringtonFlexibleControl,
)
from biotracker.scoring.detectors.ears import weeks_before_range

log = logging.getLogger(__name__)
METHODS_FILE = Path(__file__).with_name("methods.toml")


@dataclass(frozen=True)
class MethodChoice:
    method: str
    control: tuple[tuple[str, Any], ...]

    @property
    def control_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.control}

    @cached_property
    def config(self) -> Control:
        """The typed configuration with R's defaults filled in (the one place defaults live)."""
        return parse_control(self.method, self.control_dict)

    @property
    def label(self) -> str:
        """``earsC2`` for EARS (its variant matters to a reader), else the R function name."""
        config = self.config
        if isinstance(config, EarsControl):
            return f"earsC{config.method.removeprefix('C')}"
        return self.method


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MethodEntry(_Strict):
    """One method with its R control list, as ``methods.toml`` writes it."""

    method: str
    control: dict[str, Any] = Field(default_factory=dict)

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str) -> str:
        if value not in METHODS:
            raise ValueError(f"{value!r} is not one of {', '.join(METHODS)}")
        return value

    def choice(self) -> MethodChoice:
        control = {k: tuple(v) if isinstance(v, list) else v for k, v in self.control.items()}
        return MethodChoice(self.method, tuple(sorted(control.items())))


class LongEntry(MethodEntry):
    #: Weeks since a series' first incident from which it gets the long-history method.
    min_history_weeks: int = Field(264, ge=1)


class OverrideEntry(MethodEntry):
    #: Glob over series keys ("<disease>|<ISO3>").
    series: str = Field(min_length=1)


class MethodConfig(_Strict):
    """``methods.toml``: which method scores which series. Unknown keys anywhere are refused."""

    version: int = Field(1, ge=1, le=1)
    long: LongEntry
    short: MethodEntry
    override: tuple[OverrideEntry, ...] = ()


@dataclass
class ScoreSummary:
    series: int = 0
    weeks: int = 0
    signals: int = 0
    alarms: int = 0
    #: passed on unchanged: signals change only in touched series, from their earliest touched week
    changes: Changes | None = None

    def summary(self) -> dict[str, object]:
        # not asdict(): it would deep-copy the changes only to drop them
        out: dict[str, object] = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "changes"}
        return out | {"changes": self.changes.summary() if self.changes else None}


@cache
def load_method_config(path: Path = METHODS_FILE) -> MethodConfig:
    """Read and validate ``methods.toml``: its tables, and every control list against its method.

    A misspelt key (``minSigm = 1``) anywhere is a :class:`ConfigError` that names the file, the
    section and the key; nothing is silently ignored.
    """
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the scoring method file {path}: {exc}") from exc
    try:
        config = MethodConfig.model_validate(doc)
    except ValidationError as exc:
        problems = "; ".join(
            f"[{'.'.join(str(p) for p in e['loc'])}] {e['msg']}" for e in exc.errors(include_url=False)
        )
        raise ConfigError(f"{path}: {problems}") from exc
    sections = [("[long]", config.long), ("[short]", config.short)]
    sections += [(f"[[override]] series = {o.series!r}", o) for o in config.override]
    for where, entry in sections:
        try:
            parse_control(entry.method, entry.control)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {where} {exc}") from exc
    return config


def choose_method(series_key: str, history_weeks: int, config: MethodConfig) -> MethodChoice:
    """The configured method for a series with ``history_weeks`` weeks since its first incident."""
    for override in config.override:
        if fnmatch.fnmatchcase(series_key, override.series):
            return override.choice()
    return config.long.choice() if history_weeks >= config.long.min_history_weeks else config.short.choice()


def first_scorable_week(config: Control) -> int:
    """The first week (1-based t) a method can score: R's default range start."""
    if isinstance(config, EarsControl):
        return config.baseline + 3
    if isinstance(config, CusumControl):
        return 2
    return 52 * config.b + config.w + 1


def _reads_from(choice: MethodChoice, opening: dt.date) -> dt.date | None:
    """The first week ``choice`` reads when scoring from the week ``opening`` (None: every week).
    EARS reads a fixed number of weeks before the range, so a dense series' five years need not
    be read to score its last eight weeks; the other methods read their whole history."""
    if isinstance(choice.config, EarsControl):
        return opening - dt.timedelta(weeks=weeks_before_range(choice.config))
    return None


def _baseline_text(choice: MethodChoice, period: dt.date) -> str:
    config = choice.config
    if isinstance(config, EarsControl):
        lag = {"C1": 1, "C2": 3, "C3": 5}[config.method]
        first = period - dt.timedelta(weeks=lag + config.baseline - 1)
        last = period - dt.timedelta(weeks=lag)
        return f"weeks {first.isoformat()} to {last.isoformat()}"
    if isinstance(config, (FarringtonFlexibleControl, FarringtonControl)):
        return f"the same weeks ±{config.w} in each of the previous {config.b} years"
    return "the weeks before the scoring window"


def _log_warnings(caught: list[warnings.WarningMessage], choice: MethodChoice) -> None:
    """Short or all-zero histories are expected in event data (logged at INFO); any other warning
    is news and is logged at WARNING, once per distinct message, never silently dropped."""
    seen: set[tuple[type[Warning], str]] = set()
    for w in caught:
        key = (w.category, str(w.message))
        if key in seen:
            continue
        seen.add(key)
        level = logging.INFO if issubclass(w.category, DegenerateHistoryWarning) else logging.WARNING
        log.log(level, "scoring with %s: %s: %s", choice.label, w.category.__name__, w.message)


def _touched_series(engine: Engine, scope: str, changes: Changes | None) -> set[str]:
    """Series with a disease whose counts the changes touch (all of the scope's without changes, or
    when full): a series' signals read its counts alone, so one whose reports only changed incident
    keeps its signals."""
    if changes is not None and not changes.full:
        return changes.counted_series()
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
        for keys in in_batches(sorted(touched)):
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
    weeks = week_axis(first, end)
    in_window = np.flatnonzero(
        (weeks >= window.start.replace(tzinfo=None)) & (weeks < window.end.replace(tzinfo=None))
    )
    if in_window.size == 0:
        return summary
    with engine.connect() as conn:
        # series with a report by the last week scored; how long a history each has picks its method
        firsts = {k: w for k, w in first_weeks(conn, scope.key, touched).items() if w <= weeks[-1].date()}
        config = load_method_config()
        last, opening = weeks[in_window[-1]].date(), weeks[in_window[0]].date()
        groups: dict[MethodChoice, list[str]] = {}
        for key in sorted(firsts):
            history = (last - firsts[key]).days // 7
            groups.setdefault(choose_method(key, history, config), []).append(key)
        found: dict[str, dict[dt.date, int]] = {}
        for choice, keys in groups.items():
            found.update(weekly_counts_of(conn, scope.key, keys, _reads_from(choice, opening)))
    if not firsts:
        return summary
    counts = counts_table({key: found.get(key, {}) for key in firsts}, end, first)
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
    # Earlier weeks than the method's first scorable one stay unscored.
    min_t = first_scorable_week(choice.config)
    points = [int(i) + 1 for i in in_window if int(i) + 1 >= min_t]
    if not points:
        return []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = detect(choice.method, observed, dates, control, (points[0], points[-1]))
    _log_warnings(caught, choice)
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
