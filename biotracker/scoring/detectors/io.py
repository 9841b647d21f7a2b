"""The CSV format shared with the R reference tools (``shared/reference/surveillance``).

Input: ``t, date, year, week, observed`` (``date`` is ``NA`` for week-indexed series), optionally
with ``series_id`` (long form, many series per file). Output: ``t`` (and ``series_id``),
``upperbound``, ``alarm`` and ``expected`` where R defines it, missing values written ``NA``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from biotracker.errors import ConfigError
from biotracker.scoring.detectors.api import DetectionResult


@dataclass(frozen=True)
class SeriesBatch:
    """Series sharing one time axis: ``observed`` is (n_series, n_weeks)."""

    series_ids: list[str] | None
    t: np.ndarray
    dates: np.ndarray | None
    observed: np.ndarray


def read_input(path: Path) -> list[SeriesBatch]:
    """Read a wide (one series) or long (``series_id``) input CSV into batches by time axis."""
    try:
        frame = pd.read_csv(path, na_values=["NA"], keep_default_na=True, dtype={"series_id": str})
    except FileNotFoundError as exc:
        raise ConfigError(f"input file {path} does not exist") from exc
    missing = {"t", "observed"} - set(frame.columns)
    if missing:
        raise ConfigError(
            f"input {path} lacks column(s) {sorted(missing)}; expected t, date, year, week, observed"
        )
    if "series_id" not in frame.columns:
        return [_batch(frame, None)]
    batches: dict[tuple, list[tuple[str, pd.DataFrame]]] = {}
    for sid, part in frame.groupby("series_id", sort=False):
        part = part.sort_values("t")
        dates = part["date"].astype(str).tolist() if "date" in part else []
        key = (tuple(part["t"].tolist()), tuple(dates))
        batches.setdefault(key, []).append((str(sid), part))
    out = []
    for parts in batches.values():
        first = _batch(parts[0][1], None)
        observed = np.stack([p["observed"].to_numpy(dtype=float) for _, p in parts])
        out.append(SeriesBatch([sid for sid, _ in parts], first.t, first.dates, observed))
    return out


def _batch(frame: pd.DataFrame, sid: list[str] | None) -> SeriesBatch:
    frame = frame.sort_values("t")
    t = frame["t"].to_numpy(dtype=int)
    if not np.array_equal(t, np.arange(1, len(t) + 1)):
        raise ConfigError("column t must run 1, 2, … without gaps (R's week index)")
    dates = None
    if "date" in frame.columns and frame["date"].notna().all():
        try:
            dates = pd.to_datetime(frame["date"]).to_numpy().astype("datetime64[D]")
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"column date must hold ISO dates (YYYY-MM-DD) or NA: {exc}") from exc
    observed = frame["observed"].to_numpy(dtype=float)[None, :]
    return SeriesBatch(sid, t, dates, observed)


def result_frame(result: DetectionResult, series_ids: list[str] | None) -> pd.DataFrame:
    """The output table of one batch (long form when ``series_ids`` is given)."""
    n_series, n_t = result.upperbound.shape
    cols: dict[str, np.ndarray] = {}
    if series_ids is not None:
        cols["series_id"] = np.repeat(np.asarray(series_ids, dtype=object), n_t)
    cols["t"] = np.tile(result.t, n_series)
    cols["upperbound"] = result.upperbound.ravel()
    alarm = result.alarm.ravel()
    cols["alarm"] = pd.array(np.where(np.isnan(alarm), 0, alarm).astype(int), dtype="Int64")
    cols["alarm"][np.isnan(alarm)] = pd.NA
    if result.r_defines_expected:
        cols["expected"] = result.expected.ravel()
    return pd.DataFrame(cols)


def write_output(frames: list[pd.DataFrame], path: Path) -> None:
    """Write with ``NA`` for missing values and full double precision."""
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    frame.to_csv(path, index=False, na_rep="NA", float_format="%.15g")
