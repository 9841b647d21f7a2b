"""Specification of case and death counts (digits and words) and event dates."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys

import pytest

from biotracker.normalise.event_dates import extract_event_dates
from biotracker.normalise.extract import extract
from biotracker.normalise.numbers import parse_number

from tests.conftest import FIXTURES

sys.path.insert(0, str(FIXTURES.parents[1] / "benchmarks"))
from extraction_cghss import who_report  # noqa: E402

WHO_ITEMS = {i["DonId"]: i for i in json.loads(
    (FIXTURES / "extraction" / "who_api_diseaseoutbreaknews_page1.json").read_text(encoding="utf-8"))["value"]}


@pytest.mark.parametrize(
    ("text", "value"),
    [("1,234", 1234), ("7 851", 7851), ("12", 12), ("7.6 million", 7_600_000), ("twenty-three", 23),
     ("one hundred and five", 105), ("forty-three", 43), ("two thousand and ninety-two", 2092), ("seven", 7)],
)
def test_numbers_in_digits_and_words(text: str, value: int) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize(
    ("text", "cases", "deaths"),
    [
        ("Since 1 January, a total of 1,234 confirmed cases including 56 deaths have been reported.", 1234, 56),
        ("Twenty-three people have died and one hundred and five cases were reported.", 105, 23),
        ("3 new cases, bringing the cumulative number of cases to 412 and 31 deaths (CFR 7%).", 412, 31),
        ("The death toll rose to 12 among 40 suspected cases.", 40, 12),
        ("Supplies are adequate for the treatment of 3 000 cases. 134 cases and 1 death were reported.", 134, 1),
        ("A confirmed fatal case of human infection was reported.", 1, 1),
    ],
)
def test_counts_prefer_the_event_total(text: str, cases: int, deaths: int) -> None:
    ex = extract("", text)
    assert (ex.cases.value, ex.deaths.value) == (cases, deaths)
    assert text[slice(*ex.cases.evidence.span)] == ex.cases.evidence.text


@pytest.mark.parametrize(
    ("text", "value"),
    [("3.245", 3245), ("27 540", 27540), ("27\u202f540", 27540), ("vingt-deux", 22), ("quatre-vingt-dix", 90),
     ("soixante-dix-sept", 77), ("vingt et un", 21), ("deux cents", 200), ("treinta y dos", 32),
     ("ciento veinte", 120), ("dos mil trescientos", 2300), ("veintidós", 22), ("trinta e duas", 32),
     ("cento e dez", 110), ("once", 11), ("03", 3)],
)
def test_french_spanish_and_portuguese_numbers(text: str, value: int) -> None:
    assert parse_number(text) == value


def _cue_excerpt(excerpt_id: str) -> dict[str, str]:
    """A real French/Spanish report excerpt of the labelled cue corpus (provenance in LABELLING.md)."""
    with (FIXTURES / "cues" / "labelled.jsonl").open(encoding="utf-8") as fh:
        return next(r for r in map(json.loads, fh) if r["id"] == excerpt_id)


@pytest.mark.parametrize(
    ("excerpt_id", "cases", "deaths"),
    [
        ("fr-neg-oms-1", 472, 70),        # "472 cas de fièvre de Lassa confirmés ..., dont 70 mortels"
        ("fr-neg-ebola-1", 5335, 2622),   # "le nombre total de cas ... était de 5335, avec 2622 décès"
        ("c-fr-neg-oms-4", 27540, None),  # "27 540 cas ont été notifiés au total ... 24 302 cas dans ..."
        ("fr-neg-waho-1", None, 1),       # "03 cas supplémentaires confirmés dont 01 décès": an increment
        ("d-fr-abattoir-1", 6, None),     # "six cas confirmés"
        ("fr-neg-oms-2", 1, None),        # "un cas confirmé en laboratoire"
        ("d-es-matadero-3", 7, None),     # "siete casos positivos"
        ("es-brucella-yate-1", 3245, None),  # "3.245 personas han dado positivo"
        ("es-neg-panama-1", 3, None),     # "los primeros 3 casos confirmados"
        ("c-fr-neg-oms-2", None, None),   # "aucun nouveau cas confirmé"
        ("es-lab-latercera-2", None, None),  # "22 personas están siendo tratadas": treated, not cases
    ],
)
def test_counts_in_french_and_spanish_reports(excerpt_id: str, cases: int | None, deaths: int | None) -> None:
    row = _cue_excerpt(excerpt_id)
    ex = extract(row.get("title", ""), row["text"])
    assert (ex.cases and ex.cases.value, ex.deaths and ex.deaths.value) == (cases, deaths)


def test_portuguese_counts_and_a_spanish_once_that_is_not_english() -> None:
    ex = extract("Surto de febre amarela", "Foram confirmados 123 casos e 45 óbitos no estado.")
    assert (ex.cases.value, ex.deaths.value) == (123, 45)
    assert extract("", "Se notificaron once casos.").cases.value == 11
    assert extract("", "Once cases are confirmed, contacts are traced.").cases is None


def test_reports_without_numbers_have_no_counts() -> None:
    ex = extract("Cholera - Haiti", "The ministry is investigating.")
    assert ex.cases is None and ex.deaths is None


def _labels() -> list[dict[str, str]]:
    path = FIXTURES / "extraction" / "who_don_counts.csv"
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(line for line in fh if not line.startswith("#")))


@pytest.mark.parametrize("don_id", ["2024-DON540", "2024-DON522", "2024-DON517", "2000DON225", "1999DON228"])
def test_who_reports_give_their_hand_labelled_totals(don_id: str) -> None:
    label = next(r for r in _labels() if r["don_id"] == don_id)
    title, text, published = who_report(WHO_ITEMS[don_id])
    ex = extract(title, text, published)
    assert (ex.cases.value, ex.deaths.value) == (int(label["cases"]), int(label["deaths"]))


def test_the_labels_file_covers_every_who_item_once() -> None:
    assert sorted(r["don_id"] for r in _labels()) == sorted(WHO_ITEMS)


def test_event_dates_take_the_publication_year_and_never_lie_in_the_future() -> None:
    dates = extract_event_dates("text", "Onset on 3 May 2024; cases since 12 December; vaccination on 1 June.",
                                dt.date(2024, 5, 10))
    assert [(d.date, d.precision) for d in dates] == [(dt.date(2024, 5, 3), "day"), (dt.date(2023, 12, 12), "day")]


def test_event_dates_in_french_spanish_and_portuguese() -> None:
    published = dt.date(2020, 12, 20)
    found = [(d.date, d.precision) for text in ("Du 1er janvier au 9 février 2020, 472 cas",
                                                "el 2 de diciembre los primeros 3 casos",
                                                "entre diciembre de 2018 y febrero de 2019",
                                                "em 14 de março de 2020 foram confirmados")
             for d in extract_event_dates("text", text, published)]
    assert found == [(dt.date(2020, 1, 1), "day"), (dt.date(2020, 2, 9), "day"), (dt.date(2020, 12, 2), "day"),
                     (dt.date(2018, 12, 1), "month"), (dt.date(2019, 2, 1), "month"), (dt.date(2020, 3, 14), "day")]
