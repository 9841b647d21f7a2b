"""Weekly count series per (disease, country, host) built from incidents.

Weeks start on Monday (ISO weeks, UTC). Every series is filled with explicit zeros from its first
week to the requested end, so detectors see real zero weeks rather than gaps.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Engine, select

from biotracker.db.tables import incidents

SERIES_FIELDS = ("disease", "country_iso3")
UNKNOWN = "*"


def week_start(moment: dt.datetime | dt.date) -> dt.date:
    day = moment.date() if isinstance(moment, dt.datetime) else moment
    return day - dt.timedelta(days=day.weekday())


def series_key(disease: str | None, country: str | None) -> str:
    return f"{disease or UNKNOWN}|{country or UNKNOWN}"


def load_incident_frame(engine: Engine) -> pd.DataFrame:
    """Incidents with a disease and a date, one row each, with their series key and week."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(incidents.c.incident_id, incidents.c.disease, incidents.c.country_iso3, incidents.c.host,
                   incidents.c.first_seen_at)
            .where(incidents.c.disease.is_not(None), incidents.c.first_seen_at.is_not(None))
        ).mappings().all()
    frame = pd.DataFrame(rows, columns=["incident_id", "disease", "country_iso3", "host", "first_seen_at"])
    if frame.empty:
        return frame.assign(series_key=pd.Series(dtype=str), period_start=pd.Series(dtype=object))
    frame["series_key"] = [series_key(d, c) for d, c in zip(frame["disease"], frame["country_iso3"], strict=True)]
    frame["period_start"] = [week_start(pd.Timestamp(t).to_pydatetime()) for t in frame["first_seen_at"]]
    return frame.sort_values(["series_key", "period_start", "incident_id"]).reset_index(drop=True)


def weekly_counts(frame: pd.DataFrame, end: dt.date) -> pd.DataFrame:
    """Wide table: one row per week (Mondays up to the week before ``end``), one column per series."""
    if frame.empty:
        return pd.DataFrame()
    counts = frame.groupby(["period_start", "series_key"]).size().unstack("series_key", fill_value=0)
    first = min(counts.index)
    weeks = pd.date_range(pd.Timestamp(first), pd.Timestamp(week_start(end - dt.timedelta(days=1))), freq="7D")
    counts.index = pd.to_datetime(counts.index)
    return counts.reindex(weeks, fill_value=0).astype(int)
