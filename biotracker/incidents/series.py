"""Weekly count series per (disease, country, host) built from the reports of incidents.

The count of a week is the number of distinct reports (outbreak events) observed that week;
exact and near duplicates of another report are not counted again. Counting reports rather than
clustered incidents keeps the size of an outbreak visible: twelve farm outbreaks in one country-week
form one incident but count twelve. Weeks start on Monday (ISO weeks, UTC). Every series is filled
with explicit zeros, so detectors see real zero weeks rather than gaps.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Engine, func, select

from biotracker.db.tables import incident_reports, reports

UNKNOWN = "*"
COLUMNS = ["report_id", "incident_id", "disease", "country_iso3", "host", "seen_at"]


def week_start(moment: dt.datetime | dt.date) -> dt.date:
    day = moment.date() if isinstance(moment, dt.datetime) else moment
    return day - dt.timedelta(days=day.weekday())


def series_key(disease: str | None, country: str | None, host: str | None = None) -> str:
    return f"{disease or UNKNOWN}|{country or UNKNOWN}|{host or UNKNOWN}"


def split_series_key(key: str) -> tuple[str | None, str | None, str | None]:
    disease, country, host = (key.split("|") + [UNKNOWN, UNKNOWN])[:3]
    return tuple(None if part == UNKNOWN else part for part in (disease, country, host))  # type: ignore[return-value]


def load_incident_frame(engine: Engine) -> pd.DataFrame:
    """One row per counted report with a date: its incident, series key and week.

    Reports with no disease are kept (series "*|<country>|<host>"): a law-enforcement report of a
    white-powder letter names no disease yet must still reach the alert rules; scoring skips them.
    """
    seen_at = func.coalesce(reports.c.observed_at, reports.c.published_at)
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                reports.c.report_id,
                incident_reports.c.incident_id,
                reports.c.disease,
                reports.c.country_iso3,
                reports.c.host,
                seen_at.label("seen_at"),
            )
            .join(incident_reports, incident_reports.c.report_id == reports.c.report_id)
            .where(seen_at.is_not(None), incident_reports.c.duplicate_of.is_(None))
        ).all()
    frame = pd.DataFrame(rows, columns=COLUMNS)
    if frame.empty:
        return frame.assign(series_key=pd.Series(dtype=str), period_start=pd.Series(dtype=object))
    frame = frame.astype(object).where(frame.notna(), None)  # SQL NULL stays None, not NaN
    frame["series_key"] = [
        series_key(d, c, h)
        for d, c, h in zip(frame["disease"], frame["country_iso3"], frame["host"], strict=True)
    ]
    frame["period_start"] = [week_start(pd.Timestamp(t).to_pydatetime()) for t in frame["seen_at"]]
    return frame.sort_values(["series_key", "period_start", "report_id"]).reset_index(drop=True)


def weekly_counts(frame: pd.DataFrame, end: dt.date) -> pd.DataFrame:
    """Wide table: one row per week (Mondays up to the week before ``end``), one column per series."""
    if frame.empty:
        return pd.DataFrame()
    counts = frame.groupby(["period_start", "series_key"]).size().unstack("series_key", fill_value=0)
    first = min(counts.index)
    weeks = pd.date_range(
        pd.Timestamp(first), pd.Timestamp(week_start(end - dt.timedelta(days=1))), freq="7D"
    )
    counts.index = pd.to_datetime(counts.index)
    return counts.reindex(weeks, fill_value=0).astype(int)
