"""The weekly counts clustering keeps: ``series_counts`` and ``country_months`` follow each run's
link changes (additions, removals, moves between series and weeks) and always equal a GROUP BY
over the links, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import select

from biotracker.config import load_settings
from biotracker.db.engine import open_store
from biotracker.db.tables import country_months, series_counts
from biotracker.incidents.series_counts import apply_link_changes, country_month_totals

JAN, FEB = dt.date(2025, 1, 27), dt.date(2025, 2, 3)  # Mondays of two months


def link(key: str, week: dt.date | None, duplicate_of: str | None = None) -> dict:
    return {"series_key": key, "period_start": week, "duplicate_of": duplicate_of}


def stored(engine) -> tuple[Counter, Counter]:
    with engine.connect() as conn:
        weeks = Counter({(r.series_key, r.period_start): r.n for r in conn.execute(select(series_counts))})
        months = Counter({(r.disease, r.country_iso3, r.month): r.n for r in conn.execute(select(country_months))})
    return weeks, months


def grouped(links: list[dict]) -> tuple[Counter, Counter]:
    weeks: Counter = Counter()
    months: Counter = Counter()
    for r in links:
        if r["duplicate_of"] is None and r["period_start"] is not None:
            weeks[(r["series_key"], r["period_start"])] += 1
            disease, country, _ = r["series_key"].split("|")
            if country != "*":
                months[(disease, country, r["period_start"].month)] += 1
    return weeks, months


def test_counts_follow_added_removed_and_moved_links(database_url, tmp_path):
    engine = open_store(load_settings({}, home=str(tmp_path), database_url=database_url))
    day1 = [
        link("plague|MDG|human", JAN),
        link("plague|MDG|rat", JAN),
        link("plague|MDG|human", FEB),
        link("plague|MDG|human", FEB, duplicate_of="r1"),  # a duplicate does not count
        link("*|USA|*", FEB),  # unknown disease: "*"
        link("plague|*|human", JAN),  # unknown country: no month row
        link("plague|MDG|human", None),  # undated: not counted
    ]
    with engine.begin() as conn:
        apply_link_changes(conn, "tlp:clear", [], day1, full=True)
    assert stored(engine) == grouped(day1)

    # the rat report is re-linked to another week, the February report becomes a duplicate,
    # a new country appears
    removed = [day1[1], day1[2]]
    day2 = [link("plague|MDG|rat", FEB), link("plague|MDG|human", FEB, duplicate_of="r9"), link("plague|KEN|human", FEB)]
    with engine.begin() as conn:
        apply_link_changes(conn, "tlp:clear", removed, day2)
    after = [r for r in day1 if r not in removed] + day2
    weeks, months = stored(engine)
    assert (weeks, months) == grouped(after)
    assert all(n > 0 for n in [*weeks.values(), *months.values()])  # emptied rows are gone
    with engine.connect() as conn:
        assert country_month_totals(conn, "tlp:clear", "plague")["MDG"][0] == 1  # January: one human report
        assert country_month_totals(conn, "tlp:clear", None) == {"USA": [0, 1] + [0] * 10}

    with engine.begin() as conn:  # a full build of the scope starts again from its links
        apply_link_changes(conn, "tlp:clear", [], day2, full=True)
    assert stored(engine) == grouped(day2)
