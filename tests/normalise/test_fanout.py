"""A round-up naming several countries becomes one report per named country (never per inferred
or passing place), so each (disease, country) series sees it."""

import datetime as dt

from biotracker.normalise.enrich import enrich
from biotracker.normalise.fanout import per_country
from biotracker.schema import Report

WHEN = dt.datetime(2022, 5, 20, tzinfo=dt.UTC)


def report(title: str) -> Report:
    return enrich(Report(source="promed", source_id="8703201", title=title, published_at=WHEN))


def test_a_round_up_gives_one_report_per_named_country():
    out = per_country(report("Monkeypox - Europe: Portugal, Spain, UK"))
    assert [(r.report_id, r.country_iso3) for r in out] == [
        ("promed:8703201", "PRT"),
        ("promed:8703201#ESP", "ESP"),
        ("promed:8703201#GBR", "GBR"),
    ]
    assert out[1].evidence["fanned_out_from"] == "promed:8703201" and out[1].disease == "mpox"


def test_one_country_inferred_places_and_no_place_stay_one_report():
    assert len(per_country(report("Cholera - Yemen"))) == 1
    assert len(per_country(report("MERS-CoV (03): update"))) == 1
    assert len(per_country(report("Dengue/DHF update (06): Americas, Asia, research"))) == 1


def test_only_countries_the_title_names_fan_out_not_those_of_a_long_text():
    long = enrich(Report(source="who_don", source_id="2024-DON1", title="Cholera - Global situation",
                         text="Cases were reported in Yemen, Haiti and Malawi this month.", published_at=WHEN))
    assert len(per_country(long)) == 1
    mixed = enrich(Report(source="promed", source_id="1", title="Cholera - Africa: Cameroon, Malawi",
                          text="Also reported in Nigeria.", published_at=WHEN))
    assert sorted(r.country_iso3 for r in per_country(mixed)) == ["CMR", "MWI"]
