"""Counted reports per (series, week) in each scope: ``series_counts``, kept by clustering.

A week's count is the number of counted links (non-duplicate reports with a date) of the series,
what ``incidents/series.py`` defines. Scoring needs a touched series' weekly counts and the lens a
disease's weekly history by country and by host; grouping the links on every run made both grow
with the stored history. Clustering knows exactly which links it replaced, so it adds the
difference here (``apply_link_changes``), and readers get series x weeks rows instead of reports.
A full build of a scope recomputes the scope's rows from its links.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, delete, func, select

from biotracker.db.batches import in_batches
from biotracker.db.tables import series_counts
from biotracker.db.upsert import dialect_insert
from biotracker.incidents.series import split_series_key

__all__ = ["apply_link_changes", "disease_counts", "first_weeks", "weekly_counts_of"]

SeriesWeekKey = tuple[str, dt.date]


def _counted(links: Iterable[Mapping[str, Any]]) -> Counter[SeriesWeekKey]:
    """Links that count, by (series, week): not a duplicate of another report, and dated."""
    return Counter(
        (link["series_key"], link["period_start"])
        for link in links
        if link["duplicate_of"] is None and link["period_start"] is not None and link["series_key"]
    )


def apply_link_changes(
    conn: Connection,
    scope: str,
    old: Iterable[Mapping[str, Any]],
    new: Iterable[Mapping[str, Any]],
    *,
    full: bool = False,
) -> int:
    """Replace ``old`` links' counts by ``new`` ones' in the scope (every row of it when ``full``).

    ``old`` and ``new`` are link rows with ``series_key``, ``period_start`` and ``duplicate_of``:
    the links a run deleted and those it wrote. Returns how many (series, week) rows changed.
    """
    if full:
        conn.execute(delete(series_counts).where(series_counts.c.scope == scope))
        delta = _counted(new)
    else:
        delta = _counted(new)
        delta.subtract(_counted(old))
    changed = {key: n for key, n in delta.items() if n}
    if not changed:
        return 0
    rows = []
    for (key, week), n in changed.items():
        disease, country, host = split_series_key(key)
        rows.append(
            {
                "scope": scope,
                "series_key": key,
                "period_start": week,
                "disease": disease,
                "country_iso3": country,
                "host": host,
                "n": n,
            }
        )
    stmt = dialect_insert(conn, series_counts)
    stmt = stmt.on_conflict_do_update(
        index_elements=["scope", "series_key", "period_start"],
        set_={"n": series_counts.c.n + stmt.excluded.n},
    )
    conn.execute(stmt, rows)
    emptied = sorted({key for (key, _), n in changed.items() if n < 0})
    for keys in in_batches(emptied):
        conn.execute(
            delete(series_counts).where(
                series_counts.c.scope == scope, series_counts.c.series_key.in_(keys), series_counts.c.n <= 0
            )
        )
    return len(changed)


def weekly_counts_of(
    conn: Connection, scope: str, series_keys: Collection[str], since: dt.date | None = None
) -> dict[str, dict[dt.date, int]]:
    """Counted reports per week of each series (weeks without a report are absent), from ``since``
    on when given (a detector that reads only recent weeks need not read five years of them)."""
    out: dict[str, dict[dt.date, int]] = {}
    cols = (series_counts.c.series_key, series_counts.c.period_start, series_counts.c.n)
    for keys in in_batches(sorted(series_keys)):
        query = select(*cols).where(series_counts.c.scope == scope, series_counts.c.series_key.in_(keys))
        if since is not None:
            query = query.where(series_counts.c.period_start >= since)
        for key, week, n in conn.execute(query):
            out.setdefault(key, {})[week] = int(n)
    return out


def first_weeks(conn: Connection, scope: str, series_keys: Collection[str]) -> dict[str, dt.date]:
    """Each series' first week with a counted report (series without one are absent): how long a
    history it has, which decides its detection method, without reading the weeks in between."""
    out: dict[str, dt.date] = {}
    first = func.min(series_counts.c.period_start)
    for keys in in_batches(sorted(series_keys)):
        query = (
            select(series_counts.c.series_key, first)
            .where(
                series_counts.c.scope == scope, series_counts.c.series_key.in_(keys), series_counts.c.n > 0
            )
            .group_by(series_counts.c.series_key)
        )
        out.update({key: week for key, week in conn.execute(query) if week is not None})
    return out


def disease_counts(
    conn: Connection, scope: str, disease: str | None, *, by_country: bool = True
) -> tuple[list[tuple[str, dt.date, int]], list[tuple[str | None, dt.date, int]]]:
    """A disease's weekly counts by country (countries known; none unless ``by_country``) and by
    host (None: unknown host), summed by the database: rows of (country, week, n) and
    (host, week, n), whatever the history's size."""
    where = [
        series_counts.c.scope == scope,
        series_counts.c.disease == disease if disease is not None else series_counts.c.disease.is_(None),
    ]
    n = func.sum(series_counts.c.n)
    countries: list[tuple[str, dt.date, int]] = []
    if by_country:
        query = (
            select(series_counts.c.country_iso3, series_counts.c.period_start, n)
            .where(*where, series_counts.c.country_iso3.is_not(None))
            .group_by(series_counts.c.country_iso3, series_counts.c.period_start)
        )
        countries = [(c, w, int(k)) for c, w, k in conn.execute(query)]
    by_host = select(series_counts.c.host, series_counts.c.period_start, n).where(*where)
    hosts = [
        (h, w, int(k))
        for h, w, k in conn.execute(by_host.group_by(series_counts.c.host, series_counts.c.period_start))
    ]
    return countries, hosts
