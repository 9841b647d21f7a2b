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
