"""The law-enforcement lens: every demo incident is assessed, flags carry evidence, rules are checkable."""

import datetime as dt

from sqlalchemy import select

from biotracker.db.engine import make_engine
from biotracker.db.tables import incident_assessments


# The flags themselves are specified in tests/scoring/test_unusual.py.
W = dt.date(2024, 9, 30)


def test_every_demo_incident_carries_agent_flags_unusualness_and_indicator_score(demo_store):
    settings, result = demo_store
    with make_engine(settings).connect() as conn:
        rows = [dict(r) for r in conn.execute(select(incident_assessments)).mappings()]
    assert len(rows) == result.row_counts["incidents"]
    marburg = [r for r in rows if r["agent_key"] == "marburg_virus"]
    assert marburg and all(r["agent_flags"]["tier1"] and r["agent_flags"]["select_agent"] == "HHS" for r in marburg)
    assert all(isinstance(r["indicator_total"], int) and r["verdict"] for r in rows)
    flagged = [f for r in rows for f in r["unusual"]]
    assert flagged and all(f["evidence"] for f in flagged)
    powder = [c for r in rows for c in r["cues"] if c["category"] == "suspicious_powder_hoax"]
    assert powder and "white powder" in powder[0]["sentence"]


def test_history_is_asked_as_of_the_incident_week_never_later():
    """Later reports never change an assessment: what the incremental chain relies on."""
    from collections import Counter

    from biotracker.scoring.unusual import History

    later = W + dt.timedelta(weeks=1)
    h = History.from_counts(dt.date(2020, 1, 6), [("plague", "MDG", "human", W, 1), ("plague", "MDG", "rat", later, 30),
                                                  ("plague", "USA", "human", later, 2)],
                            [("plague", W, 0.1), ("plague", W, 0.2), ("plague", W, 0.3), ("plague", later, 0.9)])
    assert h.hosts("plague", W) == Counter({"human": 1}) and h.hosts("plague", later)["rat"] == 30
    assert h.months("plague", "MDG", W) == Counter({W.month: 1})
    assert h.countries("plague", later) == {"MDG", "USA"} and h.countries("plague", W) == {"MDG"}
    assert h.usual_fatality("plague", W) == 0.2 and h.usual_fatality("plague", W - dt.timedelta(weeks=1)) is None
    assert h.earlier_weeks("plague", "MDG", later) == [W] and h.earlier_weeks("plague", "MDG", W) == []


def _incident_facts(conn, scope):
    from biotracker.scoring.incident_members import counted_members
    from biotracker.scoring.unusual import IncidentFacts

    return [
        IncidentFacts(c.disease, c.country, c.host, c.week, c.cases, c.deaths, sources=tuple(sorted(c.sources)))
        for c in counted_members(conn, scope, None).values()
        if c.week is not None and c.disease
    ]


def test_a_history_read_from_recent_weeks_answers_as_the_whole_history_does(demo_copy):
    """A daily run reads the weeks before the ones it assesses summed by month, and every earlier
    week only of series back after a silence: every flag, with its evidence, and every count the
    flags read are what the whole history gives, on SQLite and PostgreSQL."""
    import pytest

    from biotracker.incidents.scopes import scope_named
    from biotracker.scoring.lens import load_history
    from biotracker.scoring.unusual import IncompleteHistory, unusual_flags

    engine = make_engine(demo_copy)
    with engine.connect() as conn:
        scope = scope_named(conn.execute(select(incident_assessments.c.scope).distinct()).scalars().first())
        facts = _incident_facts(conn, scope)
        diseases = {f.disease for f in facts}
        whole = load_history(conn, scope, diseases)
        weeks = sorted({f.week for f in facts})
        summed = completed = compared = reemerging = unasked = 0
        for from_week in (weeks[len(weeks) // 4], weeks[len(weeks) // 2], weeks[-8]):
            asked = [f for f in facts if f.week >= from_week]
            recent = load_history(
                conn, scope, diseases, from_week=from_week, asked={(f.disease, f.country, f.week) for f in asked}
            )
            had_earlier = {key for key, ws in whole.weeks.items() if ws[0] < from_week}
            summed += len(had_earlier & recent.truncated)
            completed += len(had_earlier - recent.truncated)
            for f in asked:
                norm = whole.usual_fatality(f.disease, f.week)
                assert recent.usual_fatality(f.disease, f.week) == norm
                assert recent.hosts(f.disease, f.week) == whole.hosts(f.disease, f.week)
                assert recent.months(f.disease, f.country, f.week) == whole.months(f.disease, f.country, f.week)
                assert recent.countries(f.disease, f.week) == whole.countries(f.disease, f.week)
                found = unusual_flags(f, recent, None, norm)
                assert found == unusual_flags(f, whole, None, norm), f
                reemerging += any(x.flag == "reemergence" for x in found)
                compared += 1
            with pytest.raises(IncompleteHistory, match="read from"):
                recent.hosts(facts[0].disease, from_week - dt.timedelta(weeks=1))
            for disease, country in sorted(recent.unread, key=str)[:1]:  # a pair nobody asked about
                unasked += 1
                with pytest.raises(IncompleteHistory, match="was not read"):
                    recent.last_week_before(disease, country, from_week)
    # the demo exercises both kinds of series: summed ones and ones read whole for their usual gap
    assert compared > 1000 and summed and completed and reemerging and unasked, (
        compared, summed, completed, reemerging, unasked)
