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
