"""The bounds every stored report respects, declared once in ``Report`` for every connector:
dates from 1900 to a few days after the fetch, counts in [0, 1e9], real ISO 3166 codes, text that
every backend can store; an undated item of a dated source is dated by its fetch, and says so."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from biotracker.ingest.fields import parse_count
from biotracker.ingest.registry import get_connector
from biotracker.normalise.run import normalise_payload
from biotracker.schema import UTC, Report
from biotracker.schema.models import MAX_AHEAD_OF_FETCH, MAX_COUNT

FETCHED = dt.datetime(2024, 11, 1, tzinfo=UTC)
BASE = {"source": "s", "source_id": "1", "title": "t"}


def report(**fields) -> Report:
    return Report.model_validate(BASE | fields, context={"fetched_at": FETCHED})


@pytest.mark.parametrize(("fields", "message"), [
    ({"published_at": dt.datetime(1899, 12, 31, tzinfo=UTC)}, "before 1900-01-01"),
    ({"observed_at": dt.datetime(1, 1, 1, tzinfo=UTC)}, "before 1900-01-01"),
    ({"published_at": FETCHED + MAX_AHEAD_OF_FETCH + dt.timedelta(seconds=1)}, "a date in the future"),
    ({"observed_at": dt.datetime(2099, 1, 1, tzinfo=UTC)}, "a date in the future"),
    ({"cases": -500}, "greater than or equal to 0"),
    ({"deaths": MAX_COUNT + 1}, "less than or equal to 1000000000"),
    ({"cases": 3_000_000_000}, "less than or equal to 1000000000"),
    ({"country_iso3": "XXX"}, "'XXX' is not an ISO 3166-1 alpha-3 country code"),
    ({"country_iso3": "usa"}, "should match pattern"),
    ({"title": "a\x00b"}, "NUL"),
    ({"summary": "x\ud800y"}, "unicode string"),
    ({"disease": "d" * 201}, "at most 200 characters"),
    ({"evidence": {"n": float("inf")}}, "which JSON cannot store"),
    ({"evidence": {"deep": [[[[[[[[[[[[[["x"]]]]]]]]]]]]]]}}, "nested deeper"),
    ({"evidence": {"k": "v\x00"}}, "NUL"),
])
def test_values_out_of_bounds_are_refused_with_the_reason(fields: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        report(**fields)


def test_values_inside_the_bounds_are_kept() -> None:
    kept = report(published_at=FETCHED + MAX_AHEAD_OF_FETCH, observed_at=dt.datetime(1900, 1, 1, tzinfo=UTC),
                  cases=MAX_COUNT, deaths=0, country_iso3="XKX", title="Ébola – RDC")
    assert (kept.cases, kept.country_iso3) == (MAX_COUNT, "XKX")


def test_without_a_fetch_time_only_the_fixed_bounds_apply() -> None:
    assert Report(**BASE, published_at=dt.datetime(2099, 1, 1, tzinfo=UTC)).published_at.year == 2099


@pytest.mark.parametrize(("text", "message"), [("-500", "negative"), ("inf", "not a finite number"),
                                               ("nan", "not a finite number"), ("1e19", "not a plausible count"),
                                               ("3000000000", "not a plausible count"), ("12 cases", "not a finite")])
def test_counts_from_feed_fields_keep_their_sign_and_size(text: str, message: str) -> None:
    from biotracker.errors import RecordError

    with pytest.raises(RecordError, match=message):
        parse_count(text, "sumCases")


def test_an_undated_item_of_a_dated_source_is_dated_by_its_fetch_and_says_so() -> None:
    body = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
            b"<item><title>Anthrax outbreak in cattle</title><link>https://x.org/1</link><guid>1</guid></item>"
            b"<item><title>Dated</title><link>https://x.org/2</link><guid>2</guid>"
            b"<pubDate>Thu, 31 Oct 2024 10:00:00 GMT</pubDate></item></channel></rss>")
    good, bad, _ = normalise_payload(get_connector("ecdc"), body, "a" * 64, FETCHED)
    undated, dated = good
    assert bad == []
    assert undated.published_at == FETCHED and undated.observed_at == FETCHED
    assert "fetch time" in undated.evidence["date_fallback"]
    assert "date_fallback" not in dated.evidence


def test_an_unreadable_date_is_quarantined_never_silently_none() -> None:
    body = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
            b"<item><title>x</title><link>https://x.org/1</link><guid>1</guid><pubDate>yesterday</pubDate></item>"
            b"</channel></rss>")
    good, bad, _ = normalise_payload(get_connector("ecdc"), body, "a" * 64, FETCHED)
    assert good == [] and "'yesterday' is not a date" in bad[0].reason


@pytest.mark.parametrize(("title", "cases"), [("Cholera: -500 cases reported", None),
                                              ("Cholera: \u2212500 cases reported", None),
                                              ("Cholera: 10-500 cases reported", 500),
                                              ("Cholera: a total of 3,000,000,000 cases", None),
                                              ("Cholera: 500 cases reported", 500)])
def test_counts_read_from_text_keep_their_sign_and_stay_in_range(title: str, cases: int | None) -> None:
    from biotracker.normalise.counts import extract_counts

    found, _ = extract_counts(title, "")
    assert (found.value if found else None) == cases
