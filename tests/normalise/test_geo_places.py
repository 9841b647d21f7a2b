"""Specification of place recognition: country names as feeds and reports write them, and the
classic ambiguities of outbreak reports (Georgia, the Guineas, Niger/Nigeria, the two Congos,
places named in passing)."""

from __future__ import annotations

import pytest

from biotracker.normalise.extract import extract
from biotracker.normalise.geo import country_iso3


@pytest.mark.parametrize(
    ("name", "iso3"),
    [
        ("Viet Nam", "VNM"), ("Vietnam", "VNM"), ("Türkiye", "TUR"), ("Turkey", "TUR"),
        ("Côte d'Ivoire", "CIV"), ("Cote d’Ivoire", "CIV"), ("Ivory Coast", "CIV"),
        ("Democratic Republic of the Congo", "COD"), ("DRC", "COD"), ("Congo, The Democratic Republic of the", "COD"),
        ("Republic of the Congo", "COG"), ("Congo", "COG"),
        ("USA", "USA"), ("United States of America", "USA"), ("UK", "GBR"), ("United Kingdom", "GBR"),
        ("Korea, Republic of", "KOR"), ("Republic of Korea", "KOR"), ("Democratic People's Republic of Korea", "PRK"),
        ("Iran (Islamic Republic of)", "IRN"), ("Bolivia (Plurinational State of)", "BOL"),
        ("United Republic of Tanzania", "TZA"), ("Lao People's Democratic Republic", "LAO"),
        ("Guinea", "GIN"), ("Guinea-Bissau", "GNB"), ("Guinea Bissau", "GNB"), ("Papua New Guinea", "PNG"),
        ("Equatorial Guinea", "GNQ"), ("Niger", "NER"), ("Nigeria", "NGA"),
        ("Kosovo", "XKX"), ("Hong Kong SAR, China", "HKG"), ("Taiwan", "TWN"),
        ("FR", "FRA"), ("DEU", "DEU"), ("Allemagne", "DEU"), ("Alemania", "DEU"), ("Alemanha", "DEU"),
        ("the Netherlands", "NLD"), ("Netherlands (Kingdom of the)", "NLD"), ("Phillipines", "PHL"),
    ],
)
def test_country_iso3_reads_the_names_feeds_use(name: str, iso3: str) -> None:
    assert country_iso3(name) == iso3


@pytest.mark.parametrize("name", ["", "   ", "Atlantis", "Middle Earth"])
def test_country_iso3_returns_none_rather_than_guessing(name: str) -> None:
    assert country_iso3(name) is None


@pytest.mark.parametrize(
    ("headline", "countries"),
    [  # real WHO DON headlines (CGHSS database) and their hand-coded ISO codes
        ("2001 - Yellow fever in Guinea", ["GIN"]),
        ("1999 - Meningococcal meningitis in Guinea-Bissau", ["GNB"]),
        ("Zika virus infection - Papua New Guinea", ["PNG"]),
        ("1999 - Cholera in Niger", ["NER"]),
        ("1996 - Cerebrospinal meningitis in Nigeria", ["NGA"]),
        ("1997 - Monkeypox in the Democratic Republic of the Congo (former Zaire)", ["COD"]),
        ("Cholera outbreaks in the Democratic Republic of Congo (DRC) and the Republic of Congo", ["COD", "COG"]),
        ("1996 - Cholera in Rwanda and Zaire", ["RWA", "COD"]),
        ("Crimean-Congo haemorrhagic fever in Turkey", ["TUR"]),
        ("Avian influenza - outbreak in poultry in the Democratic People’s Republic of Korea - update 13", ["PRK"]),
        ("Poliovirus in South Sudan and Madagascar", ["SSD", "MDG"]),
        ("Guillain-Barré syndrome - France - French Polynesia", ["PYF"]),
        ("2000 - Tularemia in Kosovo", ["XKX"]),
        ("Avian influenza - situation in VietNam - update 3", ["VNM"]),
    ],
)
def test_headline_countries_resolve_nested_and_ambiguous_names(headline: str, countries: list[str]) -> None:
    assert sorted(extract(headline).countries) == sorted(countries)


def test_places_named_after_ex_are_imports_not_where_the_event_is() -> None:
    ex = extract("Seychelles - Suspected Plague (Ex- Madagascar)")
    assert ex.countries == ("SYC",)
    assert [(p.iso3, p.role) for p in ex.places] == [("SYC", "subject"), ("MDG", "passing")]


def test_travel_history_is_a_passing_mention() -> None:
    ex = extract("Avian influenza A(H5N1) - Australia",
                 "A child in Australia was infected; the child had travelled to India before onset.")
    assert ex.countries == ("AUS",)
    assert ("IND", "passing") in [(p.iso3, p.role) for p in ex.places]


def test_georgia_is_the_us_state_in_an_american_report_and_the_country_otherwise() -> None:
    us = extract("Salmonella outbreak linked to peaches", "Cases were reported in Georgia, Alabama and Florida, USA.")
    assert us.countries == ("USA",)
    assert [p.admin_area for p in us.places if p.evidence.text == "Georgia"] == ["Georgia"]
    caucasus = extract("Anthrax - Georgia", "Cases were hospitalized in Tbilisi.")
    assert caucasus.countries == ("GEO",)


def test_the_country_named_most_prominently_comes_first() -> None:
    ex = extract("Cholera - Haiti", "Cases rose in Haiti. Haiti's health ministry leads the response. "
                 "Supplies were sent from the Dominican Republic.")
    assert ex.countries[0] == "HTI"


def test_regions_are_places_without_a_country() -> None:
    ex = extract("Wild poliovirus in the Horn of Africa - update")
    assert ex.countries == ()
    assert [(p.kind, p.admin_area) for p in ex.places] == [("region", "Horn of Africa")]


def test_west_african_ebola_reports_infer_the_three_countries_and_say_so() -> None:
    ex = extract("Ebola virus disease, West Africa - update", published=__import__("datetime").date(2014, 7, 19))
    assert ex.inferred_countries == ("GIN", "LBR", "SLE")
    assert ex.countries == ()  # inferred places are never asserted as the report's countries
    assert {p.role for p in ex.places if p.iso3} == {"inferred"}
    assert ex.to_json()["inferred_countries"] == ["GIN", "LBR", "SLE"]
    later = extract("Ebola virus disease, West Africa - update", published=__import__("datetime").date(2019, 1, 1))
    assert later.countries == () and later.inferred_countries == ()


def test_an_inferred_country_never_becomes_the_reports_country() -> None:
    from biotracker.normalise.enrich import enrich
    from biotracker.schema import Report

    when = __import__("datetime").datetime(2022, 5, 2, tzinfo=__import__("datetime").UTC)
    report = enrich(Report(source="promed", source_id="1", title="MERS-CoV (03): update", published_at=when))
    assert report.disease == "Middle East respiratory syndrome"
    assert report.country_iso3 is None
    assert report.evidence["extraction"]["inferred_countries"] == ["SAU"]
    named = enrich(Report(source="promed", source_id="2", title="MERS-CoV (04): Qatar", published_at=when))
    assert named.country_iso3 == "QAT" and named.evidence["extraction"]["inferred_countries"] == []


def test_lower_case_turkey_is_a_bird_not_a_country() -> None:
    ex = extract("Avian influenza in turkeys on a farm in Poland")
    assert ex.countries == ("POL",)
    assert [h.host for h in ex.hosts] == ["poultry"]


def test_a_dictionary_name_written_in_lower_case_matches_as_written() -> None:
    assert extract("Cholera in occupied Palestinian territory").countries == ("PSE",)


def test_former_and_un_era_country_names_resolve_to_todays_codes() -> None:
    assert extract("Cholera in Libyan Arab Jamahiriya").countries == ("LBY",)
    assert extract("Cholera in Kampuchea").countries == ("KHM",)
    assert extract("Yellow fever in Upper Volta").countries == ("BFA",)


def test_an_unplaced_mers_report_is_inferred_to_concern_saudi_arabia_with_evidence() -> None:
    ex = extract("Middle East respiratory syndrome coronavirus (MERS-CoV) - update")
    [place] = ex.places
    assert (ex.countries, ex.inferred_countries, place.role) == ((), ("SAU",), "inferred")
    assert place.evidence.text.startswith("Middle East respiratory syndrome")
    assert extract("MERS-CoV in the Republic of Korea").countries == ("KOR",)
