"""The early-warning benchmark's matching and metrics on a small hand-made gold file and alert list
(numbers worked out by hand from the definitions in the issue and docs/EARLY_WARNING.md)."""

import datetime as dt
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from early_warning import (  # noqa: E402
    DiseaseMatcher,
    collapse_events,
    gold_events,
    load_crosswalk,
    naive_alerts,
    read_gold,
    score,
)

D = dt.date
GOLD = """DON_ID,Date,Country,iso3,Disease,icd104n,Link
DON1,2021-01-10,Yemen,YEM,Cholera,Classical cholera,x
DON2,2022-03-01,Yemen,YEM,Cholera,Classical cholera,x
DON3,2022-03-20,Yemen,YEM,Cholera,Classical cholera,x
DON4,2022-04-01,United Kingdom,GBR,Monkeypox,Monkeypox,x
DON5,2022-04-05,United States,USA, Influenza due to identified zoonotic or pandemic influenza virus,x,x
DON6,2022-04-20,Kenya,KEN,"Acute viral hepatitis, unspecified","Acute viral hepatitis, unspecified",x
DON7,2022-06-01,Chad,TCD,Cholera,Classical cholera,x
"""


def alert(day, alert_id, disease, iso3, tier, event="raised"):
    return {"event": event, "day": day, "alert_id": alert_id, "disease": disease, "disease_id": None,
            "country_iso3": iso3, "tier": tier, "rule": "r", "reasons": []}


ALERTS = [
    alert("2022-02-20", "a1", "cholera", "YEM", "medium"),
    alert("2022-02-25", "a1", "cholera", "YEM", "high", "escalated"),
    alert("2022-03-10", "a2", "anthrax", "KEN", "high"),
    alert("2022-03-01", "a3", "avian influenza A(H5N1)", "USA", "low"),
    alert("2022-03-31", "a4", "mpox", "GBR", "low"),
    alert("2022-04-20", "a5", "hepatitis A", "KEN", "critical"),
]


@pytest.fixture(scope="module")
def matcher():
    return DiseaseMatcher(load_crosswalk())


@pytest.fixture(scope="module")
def gold(tmp_path_factory, matcher):
    path = tmp_path_factory.mktemp("gold") / "gold.csv"
    path.write_text(GOLD, encoding="utf-8")
    return read_gold(path, matcher)


def test_diseases_match_through_the_crosswalk_and_the_vocabulary_not_the_gold_file(matcher):
    assert matcher.gold_concept(" Influenza due to identified zoonotic or pandemic influenza virus") == "influenza_a"
    assert matcher.gold_concept("Acute viral hepatitis, unspecified") == "hepatitis"
    assert matcher.gold_concept("Plague, unspecified  ") == "plague"
    assert matcher.alert_concept("avian influenza A(H5N1)") == "influenza_a"  # rolled up the parents
    assert matcher.alert_concept("hepatitis A") == "hepatitis"
    assert matcher.alert_concept("mpox") == "mpox" and matcher.alert_concept(None) is None
    assert matcher.gold_concept("Nipah virus infection (new label)") == "nipah"  # not listed: extractor
    assert "nipah virus infection (new label)" in matcher.via_extractor


def test_an_event_is_the_first_don_for_a_disease_and_country_after_365_days(gold):
    dons, unmatched = gold
    assert unmatched == []
    events = gold_events(dons, D(2022, 2, 1), D(2022, 4, 30))
    assert [(e.don.don_id, *e.key) for e in events] == [
        ("DON2", "cholera", "YEM"),  # 415 days after DON1
        ("DON4", "mpox", "GBR"),
        ("DON5", "influenza_a", "USA"),
        ("DON6", "hepatitis", "KEN"),
    ]  # DON3 repeats DON2 within a year; DON7 is outside the window


def test_detection_lead_and_ppv(gold, matcher):
    dons, _ = gold
    events = gold_events(dons, D(2022, 2, 1), D(2022, 4, 30))
    alerts = collapse_events(ALERTS, matcher)
    figures = score(events, dons, alerts, D(2022, 2, 1), D(2022, 4, 30))
    # cholera YEM 9 days before, mpox GBR 1 day; flu USA 35 days before (too early); hepatitis KEN on the day
    assert (figures["events"], figures["detected"], figures["detection"]) == (4, 2, 0.5)
    assert (figures["lead_median"], figures["lead_mean"]) == (5.0, 5.0)
    # high+critical: cholera reached high 4 days before its DON; hepatitis KEN critical on the day
    assert (figures["detected_high"], figures["detection_high"]) == (1, 0.25)
    # raised in the window: a1 a2 a3 a4 a5; a DON within 30 days either side: a1, a4, a5
    assert (figures["alerts"], figures["ppv"]) == (5, 0.6)
    # reached high or critical in the window: a1 (02-25), a2, a5 -> a1 and a5 have a DON nearby
    assert (figures["alerts_high"], figures["ppv_high"]) == (3, 0.6667)
    weeks = (D(2022, 4, 30) - D(2022, 2, 1)).days + 1
    assert figures["alerts_per_week"]["low"] == round(2 / (weeks / 7), 2)
    assert figures["alerts_per_week"]["high"] == round(2 / (weeks / 7), 2)  # a1 counts under its top tier


def test_the_naive_baseline_alerts_on_every_first_sighting_in_365_days(gold, matcher):
    dons, _ = gold
    sightings = [(D(2022, 2, 10), "cholera", "YEM"), (D(2022, 2, 20), "cholera", "YEM"),
                 (D(2022, 3, 20), "mpox", "GBR"), (D(2022, 3, 25), "anthrax", "KEN")]
    naive = naive_alerts(sightings, matcher)
    assert [(a.raised, a.concept, a.iso3) for a in naive] == [
        (D(2022, 2, 10), "cholera", "YEM"), (D(2022, 3, 20), "mpox", "GBR"), (D(2022, 3, 25), "anthrax", "KEN")]
    figures = score(gold_events(dons, D(2022, 2, 1), D(2022, 4, 30)), dons, naive, D(2022, 2, 1), D(2022, 4, 30))
    assert (figures["detected"], figures["lead_median"], figures["ppv"]) == (2, 15.5, 0.6667)


def test_every_crosswalk_target_is_a_vocabulary_concept(matcher):
    from biotracker.normalise.vocab import load_vocabulary

    concepts = load_vocabulary().concepts
    assert matcher.targets and all(t in concepts for t in matcher.targets)
