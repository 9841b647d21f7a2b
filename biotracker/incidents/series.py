"""Weekly count series per (disease, country, host) built from the reports of incidents.

The count of a week is the number of distinct reports (outbreak events) observed that week;
exact and near duplicates of another report are not counted again. Counting reports rather than
clustered incidents keeps the size of an outbreak visible: twelve farm outbreaks in one country-week
form one incident but count twelve. Weeks start on Monday (ISO weeks, UTC). Every series is filled
with explicit zeros, so detectors see real zero weeks rather than gaps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, Engine, select

from biotracker.db.batches import in_batches
from biotracker.db.tables import incident_reports
from biotracker.incidents.scopes import INTERNAL

UNKNOWN = "*"
COLUMNS = ["report_id", "incident_id", "disease", "country_iso3", "host", "series_key", "period_start"]


def week_start(moment: dt.datetime | dt.date) -> dt.date:
    day = moment.date() if isinstance(moment, dt.datetime) else moment
    return day - dt.timedelta(days=day.weekday())


def series_key(disease: str | None, country: str | None, host: str | None = None) -> str:
    return f"{disease or UNKNOWN}|{country or UNKNOWN}|{host or UNKNOWN}"


def split_series_key(key: str) -> tuple[str | None, str | None, str | None]:
    disease, country, host = (key.split("|") + [UNKNOWN, UNKNOWN])[:3]
    known = [None if part == UNKNOWN else part for part in (disease, country, host)]
    return known[0], known[1], known[2]


def _counted(scope: str) -> list[ColumnElement[bool]]:
    return [
        incident_reports.c.scope == scope,
        incident_reports.c.period_start.is_not(None),
        incident_reports.c.duplicate_of.is_(None),
    ]


def load_incident_frame(
    engine: Engine,
    *,
    scope: str = INTERNAL.key,
    series_keys: Collection[str] | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> pd.DataFrame:
    """One row per counted report with a date: its incident, series key and week.

    Read from the links (which carry each report's series and week), for ``series_keys`` only
    when given and weeks in ``[since, until)``: a stage reads the series and weeks it touches, not
    all history. Reports with no disease are kept (series "*|<country>|<host>"): a
    law-enforcement report of a white-powder letter names no disease yet must still reach the
    alert rules; scoring skips them.
    """
    cols = [incident_reports.c[c] for c in ("report_id", "incident_id", "series_key", "period_start")]
    where = _counted(scope)
    if since is not None:
        where.append(incident_reports.c.period_start >= since)
    if until is not None:
        where.append(incident_reports.c.period_start < until)
    with engine.connect() as conn:
        if series_keys is None:
            rows = conn.execute(select(*cols).where(*where)).all()
        else:
            rows = []
            for keys in in_batches(sorted(series_keys)):
                rows += conn.execute(
                    select(*cols).where(*where, incident_reports.c.series_key.in_(keys))
                ).all()
    frame = pd.DataFrame(rows, columns=["report_id", "incident_id", "series_key", "period_start"])
    parts = [split_series_key(k) for k in frame["series_key"]]
    frame["disease"] = [p[0] for p in parts]
    frame["country_iso3"] = [p[1] for p in parts]
    frame["host"] = [p[2] for p in parts]
    frame = frame[COLUMNS]
    frame = frame.astype(object).where(frame.notna(), None)  # SQL NULL stays None, not NaN
    return frame.sort_values(["series_key", "period_start", "report_id"]).reset_index(drop=True)


def weekly_counts(frame: pd.DataFrame, end: dt.date, first: dt.date | None = None) -> pd.DataFrame:
    """Wide table: one row per week (Mondays from ``first``, default the frame's first week, up to
    the week before ``end``), one column per series."""
    if frame.empty:
        return pd.DataFrame()
    counts = frame.groupby(["period_start", "series_key"]).size().unstack("series_key", fill_value=0)
    return counts_table({k: dict(v[v > 0]) for k, v in counts.items()}, end, first)


def week_axis(first: dt.date, end: dt.date) -> pd.DatetimeIndex:
    """The weeks of a counts table: Mondays from ``first`` up to the week before ``end``."""
    return pd.date_range(pd.Timestamp(first), pd.Timestamp(week_start(end - dt.timedelta(days=1))), freq="7D")


def counts_table(
    counts: Mapping[str, Mapping[dt.date, int]], end: dt.date, first: dt.date | None = None
) -> pd.DataFrame:
    """Wide weekly table from sparse per-series counts, zero-filled from ``first`` to the week before ``end``."""
    if not counts:
        return pd.DataFrame()
    weeks = week_axis(first or min(w for c in counts.values() for w in c), end)
    keys = sorted(counts)
    row_of = {w.date(): i for i, w in enumerate(weeks)}
    values = np.zeros((len(weeks), len(keys)), dtype=int)
    for j, key in enumerate(keys):
        for week, value in counts[key].items():
            i = row_of.get(week)
            if i is not None:
                values[i, j] = value
    return pd.DataFrame(values, index=weeks, columns=keys)
