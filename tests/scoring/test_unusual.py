"""Unusualness flags say what is unusual for that agent, place, host and season, or that the data
cannot tell ("no history"); a flag that is nearly always on would tell an analyst nothing."""

import datetime as dt

import pandas as pd

from biotracker.alerts.rules import FACTS, context_facts
from biotracker.scoring.lens import load_endemicity
from biotracker.scoring.risk.agents import load_agents
from biotracker.scoring.unusual import (
    Flag,
    History,
    IncidentFacts,
    build_history,
    concerns_humans,
    counted_flags,
    unusual_flags,
    known_hosts,
)

W = dt.date(2024, 9, 30)


def frame(rows):
    """Rows (disease, country, host, week[, source]) as the series frame gives them."""
    rows = [(*r[:4], f"{r[4] if len(r) > 4 else 'promed'}:{i}") for i, r in enumerate(rows)]
    return pd.DataFrame(rows, columns=["disease", "country_iso3", "host", "period_start", "report_id"])


def flags(rows, *, disease="plague", country="MDG", host="human", week=W, agent=None, endemic=None,
          cases=None, deaths=None, alarm=None, cfr_norm=None, sources=()):
    facts = IncidentFacts(disease, country, host, week, cases, deaths, agent, alarm, sources)
    found = unusual_flags(facts, build_history(frame(rows)), endemic, cfr_norm)
    return {f.flag: f.evidence for f in found}


def weekly(disease, country, first, weeks, host="human"):
    return [(disease, country, host, first + dt.timedelta(weeks=i)) for i in range(weeks)]


def test_first_occurrence_after_a_year_of_data_or_after_a_gap_of_a_year():
    old = [("plague", "USA", "human", dt.date(2020, 1, 6))]
    assert "in the 247 weeks its sources cover" in flags(old)[Flag.FIRST_OCCURRENCE]
    gap = old + [("plague", "MDG", "human", dt.date(2021, 3, 1))]
    assert "after a gap: previous in the week of 2021-03-01" in flags(gap)[Flag.FIRST_OCCURRENCE]
    recent = old + [("plague", "MDG", "human", dt.date(2024, 6, 3))]
    assert Flag.FIRST_OCCURRENCE not in flags(recent)


def test_history_counts_from_when_the_incidents_own_sources_began():
    rows = [("avian influenza", "DEU", "poultry", dt.date(2010, 1, 4), "hpai_tables"),
            ("cholera", "HTI", "human", W - dt.timedelta(weeks=2), "who_don")]
    found = flags(rows, disease="cholera", country="YEM", sources=("who_don",))
    assert Flag.FIRST_OCCURRENCE not in found  # the store goes back to 2010, WHO DON two weeks
    assert "its sources cover only 2 week(s)" in found[Flag.NO_HISTORY]
    assert Flag.FIRST_OCCURRENCE in flags(rows, disease="cholera", country="YEM", sources=("hpai_tables",))


def test_with_less_than_a_year_of_data_first_occurrence_is_weaker_and_needs_four_weeks():
    found = flags(weekly("plague", "USA", W - dt.timedelta(weeks=10), 10))
    assert "in the 10 weeks its sources cover" in found[Flag.FIRST_OCCURRENCE]
    assert "weaker evidence" in found[Flag.FIRST_OCCURRENCE]
    too_short = flags(weekly("plague", "USA", W - dt.timedelta(weeks=2), 2))
    assert Flag.FIRST_OCCURRENCE not in too_short
    assert "cover only 2 week(s)" in too_short[Flag.NO_HISTORY]


def test_an_endemic_agent_is_not_new_on_a_short_history():
    pestis = load_agents().get("Yersinia pestis")
    endemic = load_endemicity()["yersinia_pestis"]
    rows = weekly("plague", "USA", W - dt.timedelta(weeks=10), 10)
    found = flags(rows, agent=pestis, endemic=endemic, country="MDG")
    assert Flag.FIRST_OCCURRENCE not in found and "endemic in MDG" in found[Flag.NO_HISTORY]
    assert Flag.FIRST_OCCURRENCE in flags(rows, agent=pestis, endemic=endemic, country="FRA")
    assert "not endemic in FRA" in flags(rows, agent=pestis, endemic=endemic, country="FRA")[Flag.NON_ENDEMIC]


def test_no_history_is_shown_but_never_counted_as_unusual():
    assert counted_flags([Flag.NO_HISTORY, Flag.FIRST_OCCURRENCE, Flag.STATISTICAL_ALARM]) == set()
    assert counted_flags([Flag.NO_HISTORY, Flag.NON_ENDEMIC]) == {Flag.NON_ENDEMIC}


def test_simultaneous_countries_only_above_the_seasonal_baseline():
    countries = ("DEU", "FRA", "POL", "NLD")
    last_winter = [r for c in countries for r in weekly("avian influenza", c, W - dt.timedelta(weeks=56), 9, "wild birds")]
    this_week = [("avian influenza", c, "wild birds", W) for c in countries]
    usual = flags(last_winter + this_week, disease="avian influenza", country="DEU", host="wild birds")
    assert Flag.MULTIPLE_SIMULTANEOUS not in usual  # four countries every winter: nothing unusual
    more = this_week + [("avian influenza", c, "wild birds", W) for c in ("ITA", "ESP")]
    found = flags(last_winter + more, disease="avian influenza", country="DEU", host="wild birds")
    assert "6 countries" in found[Flag.MULTIPLE_SIMULTANEOUS]
    assert "at most 4 in the same season of 1 earlier year(s) and the 8 weeks before" in found[
        Flag.MULTIPLE_SIMULTANEOUS]


def test_a_wave_that_grows_every_year_is_not_unusual_every_week_of_its_rise():
    countries = ["C%02d" % i for i in range(12)]
    last_year = [("avian influenza", c, "wild birds", W - dt.timedelta(weeks=52)) for c in countries[:3]]
    rising = [("avian influenza", c, "wild birds", W - dt.timedelta(weeks=1)) for c in countries[:10]]
    now = [("avian influenza", c, "wild birds", W) for c in countries[:8]]
    found = flags(last_year + rising + now, disease="avian influenza", country="C00", host="wild birds")
    assert Flag.MULTIPLE_SIMULTANEOUS not in found  # more than last season, fewer than last week


def test_simultaneous_without_an_earlier_season_compares_with_the_recent_weeks():
    quiet = weekly("cholera", "HTI", W - dt.timedelta(weeks=10), 10)
    now = [("cholera", c, "human", W) for c in ("HTI", "YEM", "NGA")]
    assert "in the 8 weeks before" in flags(quiet + now, disease="cholera", country="YEM")[Flag.MULTIPLE_SIMULTANEOUS]
    assert Flag.MULTIPLE_SIMULTANEOUS not in flags(now, disease="cholera", country="YEM")  # no baseline at all


def test_reemergence_after_a_longer_silence_than_the_series_keeps():
    start = W - dt.timedelta(weeks=40)
    steady = weekly("cholera", "CMR", start, 20)  # every week for 20 weeks, then 20 silent weeks
    assert "21 weeks after the previous report" in flags(steady, disease="cholera", country="CMR")[Flag.REEMERGENCE]
    sparse = [("cholera", "CMR", "human", start + dt.timedelta(weeks=12 * i)) for i in range(3)]
    assert Flag.REEMERGENCE not in flags(sparse, disease="cholera", country="CMR")  # usual gap 12 weeks
    assert Flag.REEMERGENCE not in flags(steady + [("cholera", "CMR", "human", W - dt.timedelta(weeks=2))],
                                         disease="cholera", country="CMR")


def test_eradicated_agent_high_cfr_and_alarm_keep_their_evidence():
    rows = [("smallpox", "X", "human", dt.date(2020, 1, 6))]
    assert "eradicated" in flags(rows, disease="smallpox", agent=load_agents().get("variola"))[Flag.ERADICATED_AGENT]
    high = flags(rows, disease="cholera", cases=20, deaths=10, cfr_norm=0.02)
    assert "50% (10/20)" in high[Flag.HIGH_CFR]
    assert Flag.HIGH_CFR not in flags(rows, disease="cholera", cases=20, deaths=1, cfr_norm=0.02)
    alarm = {"method": "earsC2", "observed": 4, "upperbound": 1.5}
    assert "above the upper bound 1.50" in flags(rows, alarm=alarm)[Flag.STATISTICAL_ALARM]


def test_a_series_without_a_host_concerns_people_when_the_diseases_reports_mostly_name_people():
    week = dt.date(2024, 9, 30)
    rows = [("ASF", "POL", "wild boar", week, 1), ("ASF", "POL", "pigs", week, 1), ("ASF", "POL", None, week, 5),
            ("COVID-19", "CHN", "human", week, 2), ("COVID-19", "CHN", "cats", week, 1),
            ("COVID-19", "CHN", "cats", week + dt.timedelta(weeks=1), 9)]
    history = History.from_counts(week, rows)
    assert not concerns_humans("ASF", None, known_hosts(history, "ASF", week))  # unnamed hosts do not count
    assert concerns_humans("COVID-19", None, known_hosts(history, "COVID-19", week))
    # as of a later week the cats outnumber the people: what is usual is asked as of the week
    assert not concerns_humans("COVID-19", None, known_hosts(history, "COVID-19", week + dt.timedelta(weeks=1)))
    assert concerns_humans("mpox", None, known_hosts(history, "mpox", week))  # no report names a host: people
    assert not concerns_humans("COVID-19", "cats", known_hosts(history, "COVID-19", week))


def test_every_flag_is_a_fact_the_tier_rules_can_name():
    assert {f.value for f in Flag} <= FACTS
    facts = context_facts("cholera|CMR|*", [{"agent_flags": {"who_priority": True},
                                             "unusual": [{"flag": "reemergence", "evidence": "x"}]}], {})
    assert facts["human"] and facts["who_priority"] and facts["reemergence"] and not facts["no_history"]
