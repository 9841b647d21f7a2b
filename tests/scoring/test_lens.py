"""The law-enforcement lens: every demo incident is assessed, flags carry evidence, rules are checkable."""

import datetime as dt

from sqlalchemy import select

from biotracker.db.engine import make_engine
from biotracker.db.tables import incident_assessments
from biotracker.scoring.lens import _history, load_endemicity, unusual_flags
from biotracker.scoring.risk.agents import load_agents

import pandas as pd

W = dt.date(2024, 9, 30)


def history(rows):
    return _history(pd.DataFrame(rows, columns=["disease", "country_iso3", "host", "period_start"]))


def flags(**kw):
    base = dict(disease="plague", country="MDG", host="human", week=W, cases=None, deaths=None, agent=None,
                alarm=None, cfr_norm={})
    base |= kw
    return {f["flag"]: f["evidence"] for f in unusual_flags(
        base["disease"], base["country"], base["host"], base["week"], base["cases"], base["deaths"], base["agent"],
        base["alarm"], base["history"], base["cfr_norm"])}


def test_first_occurrence_needs_52_weeks_of_data_and_reports_a_gap():
    old = [("plague", "USA", "human", dt.date(2020, 1, 6))]
    assert "first_occurrence" in flags(history=history(old))
    assert "first_occurrence" not in flags(history=history([("plague", "USA", "human", dt.date(2024, 6, 3))]))
    gap = old + [("plague", "MDG", "human", dt.date(2021, 3, 1))]
    assert "after a gap" in flags(history=history(gap))["first_occurrence"]


def test_non_endemic_agent_uses_the_documented_table():
    table = load_agents()
    pestis = table.get("Yersinia pestis")
    assert "MDG" in load_endemicity()["yersinia_pestis"]
    h = history([("plague", "USA", "human", dt.date(2020, 1, 6))])
    assert "non_endemic" not in flags(history=h, agent=pestis, country="MDG")
    assert "not endemic in FRA" in flags(history=h, agent=pestis, country="FRA")["non_endemic"]


def test_eradicated_agent_high_cfr_and_simultaneous_outbreaks():
    h = history([("smallpox", "X", "human", dt.date(2020, 1, 6))] +
                [("cholera", c, "human", W) for c in ("HTI", "YEM", "NGA")])
    assert "eradicated" in flags(disease="smallpox", history=h, agent=load_agents().get("variola"))["eradicated_agent"]
    assert "3 countries" in flags(disease="cholera", history=h)["multiple_simultaneous"]
    high = flags(disease="cholera", history=h, cases=20, deaths=10, cfr_norm={"cholera": 0.02})
    assert "50% (10/20)" in high["high_cfr"]
    assert "high_cfr" not in flags(disease="cholera", history=h, cases=20, deaths=1, cfr_norm={"cholera": 0.02})


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

    from biotracker.scoring.lens import History

    later = W + dt.timedelta(weeks=1)
    h = History.from_counts(dt.date(2020, 1, 6), [("plague", "MDG", "human", W, 1), ("plague", "MDG", "rat", later, 30),
                                                  ("plague", "USA", "human", later, 2)],
                            [("plague", W, 0.1), ("plague", W, 0.2), ("plague", W, 0.3), ("plague", later, 0.9)])
    assert h.hosts("plague", W) == Counter({"human": 1}) and h.hosts("plague", later)["rat"] == 30
    assert h.months("plague", "MDG", W) == Counter({W.month: 1})
    assert h.countries("plague", later) == {"MDG", "USA"} and h.countries("plague", W) == {"MDG"}
    assert h.usual_fatality("plague", W) == 0.2 and h.usual_fatality("plague", W - dt.timedelta(weeks=1)) is None
    assert h.earlier_weeks("plague", "MDG", later) == [W] and h.earlier_weeks("plague", "MDG", W) == []
