"""Counted reports per (series, week) in each scope: ``series_counts``, kept by clustering.

A week's count is the number of counted links (non-duplicate reports with a date) of the series,
what ``incidents/series.py`` defines. Scoring needs a touched series' weekly counts and the lens a
disease's weekly history by country and by host; grouping the links on every run made both grow
with the stored history. Clustering knows exactly which links it replaced, so it adds the
difference here (``apply_link_changes``), and readers get series x weeks rows instead of reports.
The same difference goes to ``country_months`` (reports per disease, country and calendar month,
0018), so the lens can sum a country's weeks before those it assesses without reading them.
A full build of a scope recomputes the scope's rows from its links.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, delete, func, select

from biotracker.db.batches import in_batches, select_in
from biotracker.db.tables import country_months, series_counts
from biotracker.db.upsert import dialect_insert
from biotracker.incidents.series import UNKNOWN, split_series_key

__all__ = [
    "apply_link_changes",
    "countries_per_week",
    "country_month_totals",
    "country_weeks",
    "disease_counts",
    "first_weeks",
    "hosts_before",
    "last_weeks_before",
    "weekly_counts_of",
]

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
        conn.execute(delete(country_months).where(country_months.c.scope == scope))
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
    _apply_to_months(conn, scope, changed)
    return len(changed)


def _apply_to_months(conn: Connection, scope: str, changed: Mapping[SeriesWeekKey, int]) -> None:
    """Add the weekly changes to ``country_months`` (by the disease, country and month of each)."""
    delta: Counter[tuple[str, str, int]] = Counter()
    for (key, week), n in changed.items():
        disease, country, _ = split_series_key(key)
        if country is not None:
            delta[(disease or UNKNOWN, country, week.month)] += n
    changes = {key: n for key, n in delta.items() if n}
    if not changes:
        return
    stmt = dialect_insert(conn, country_months)
    stmt = stmt.on_conflict_do_update(
        index_elements=["scope", "disease", "country_iso3", "month"],
        set_={"n": country_months.c.n + stmt.excluded.n},
    )
    conn.execute(
        stmt,
        [
            {"scope": scope, "disease": d, "country_iso3": c, "month": m, "n": n}
            for (d, c, m), n in changes.items()
        ],
    )
    emptied = [{"s": scope, "d": d, "c": c, "m": m} for (d, c, m), n in changes.items() if n < 0]
    if emptied:
        col = country_months.c
        conn.execute(
            delete(country_months).where(
                col.scope == bindparam("s"),
                col.disease == bindparam("d"),
                col.country_iso3 == bindparam("c"),
                col.month == bindparam("m"),
                col.n <= 0,
            ),
            emptied,
        )


def weekly_counts_of(
    conn: Connection, scope: str, series_keys: Collection[str], since: dt.date | None = None
) -> dict[str, dict[dt.date, int]]:
    """Counted reports per week of each series (weeks without a report are absent), from ``since``
    on when given (a detector that reads only recent weeks need not read five years of them)."""
    c = series_counts.c
    query = select(c.series_key, c.period_start, c.n).where(c.scope == scope)
    if since is not None:
        query = query.where(c.period_start >= since)
    out: dict[str, dict[dt.date, int]] = {}
    for r in select_in(conn, query, c.series_key, series_keys):
        out.setdefault(r["series_key"], {})[r["period_start"]] = int(r["n"])
    return out


def first_weeks(conn: Connection, scope: str, series_keys: Collection[str]) -> dict[str, dt.date]:
    """Each series' first week with a counted report (series without one are absent): how long a
    history it has, which decides its detection method, without reading the weeks in between."""
    c = series_counts.c
    first = select(c.series_key, func.min(c.period_start).label("week"))
    query = first.where(c.scope == scope, c.n > 0).group_by(c.series_key)
    return {
        r["series_key"]: r["week"] for r in select_in(conn, query, c.series_key, series_keys) if r["week"]
    }


def _of_disease(scope: str, disease: str | None) -> list[ColumnElement[bool]]:
    return [
        series_counts.c.scope == scope,
        series_counts.c.disease == disease if disease is not None else series_counts.c.disease.is_(None),
    ]


def disease_counts(
    conn: Connection,
    scope: str,
    disease: str | None,
    *,
    by_country: bool = True,
    since: dt.date | None = None,
) -> tuple[list[tuple[str, dt.date, int]], list[tuple[str | None, dt.date, int]]]:
    """A disease's weekly counts by country (countries known; none unless ``by_country``) and by
    host (None: unknown host), summed by the database: rows of (country, week, n) and
    (host, week, n), whatever the history's size; from ``since`` on when given."""
    where = _of_disease(scope, disease)
    if since is not None:
        where.append(series_counts.c.period_start >= since)
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


def country_month_totals(conn: Connection, scope: str, disease: str | None) -> dict[str, list[int]]:
    """A disease's counted reports per known country and calendar month (index 0: January), over
    every week: countries x 12 rows, however long the history."""
    query = select(country_months.c.country_iso3, country_months.c.month, country_months.c.n).where(
        country_months.c.scope == scope, country_months.c.disease == (disease or UNKNOWN)
    )
    out: dict[str, list[int]] = {}
    for country, month, n in conn.execute(query):
        out.setdefault(country, [0] * 12)[int(month) - 1] += int(n)
    return out


def hosts_before(conn: Connection, scope: str, disease: str | None, week: dt.date) -> dict[str | None, int]:
    """A disease's counted reports per host (None: unknown) in weeks before ``week``: rows per host,
    from an index of hosts x weeks (a disease has a few hosts)."""
    query = (
        select(series_counts.c.host, func.sum(series_counts.c.n))
        .where(*_of_disease(scope, disease), series_counts.c.period_start < week)
        .group_by(series_counts.c.host)
    )
    return {host: int(n) for host, n in conn.execute(query)}


def last_weeks_before(
    conn: Connection, scope: str, disease: str | None, countries: Collection[str], week: dt.date
) -> dict[str, dt.date]:
    """Each country's last week before ``week`` with a report of ``disease`` (countries without one
    are absent), grouped by the database from the (disease, country, week) index."""
    c = series_counts.c
    last = select(c.country_iso3, func.max(c.period_start).label("week"))
    query = last.where(*_of_disease(scope, disease), c.period_start < week).group_by(c.country_iso3)
    return {
        r["country_iso3"]: r["week"] for r in select_in(conn, query, c.country_iso3, countries) if r["week"]
    }


def countries_per_week(conn: Connection, scope: str, disease: str | None) -> dict[dt.date, int]:
    """How many known countries reported ``disease`` in each week (weeks without any are absent)."""
    query = (
        select(series_counts.c.period_start, func.count(series_counts.c.country_iso3.distinct()))
        .where(*_of_disease(scope, disease), series_counts.c.country_iso3.is_not(None))
        .group_by(series_counts.c.period_start)
    )
    return {week: int(k) for week, k in conn.execute(query)}


def country_weeks(
    conn: Connection, scope: str, disease: str | None, countries: Collection[str], before: dt.date
) -> dict[str, list[dt.date]]:
    """The weeks before ``before`` with a report of ``disease`` in each of ``countries``."""
    c = series_counts.c
    query = select(c.country_iso3, c.period_start).where(
        *_of_disease(scope, disease), c.period_start < before
    )
    out: dict[str, list[dt.date]] = {}
    for r in select_in(conn, query.distinct(), c.country_iso3, countries):
        out.setdefault(r["country_iso3"], []).append(r["period_start"])
    return out
