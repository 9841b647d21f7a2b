"""Contributing from the browser: the form with per-field errors and nothing stored on a bad field, a
CSV upload refused by row, the report in "my organisation's contributions", only its organisation
seeing it (search, map) after the pipeline runs, and a withdrawal removing it from every page."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from biotracker.db.tables import alerts, incident_reports, raw_payloads, reports
from biotracker.schema import Window, as_utc

#: A word found in no demo record: searching for it finds the contribution only.
WORD = "Marsaxlokk"
TITLE = f"Anthrax in goats on a farm near {WORD}"
TEXT = "Four goats died suddenly; Bacillus anthracis confirmed by the national laboratory."
REPORTED = "2025-12-10T09:30"
#: Malta is too small for the 1:110m map: its alert shows as a marker at its capital.
COUNTRY = "MLT"
#: The alert page the contribution raised (found on the map by its organisation's analyst).
ALERT_PAGES: list[str] = []
INCIDENT_PAGES: list[str] = []


def run_pipeline(engine, report_ids: list[str]) -> None:
    """The chain's stages after normalisation, as ``run_chain`` calls them, for the weeks around the
    contribution: every visibility scope, the contributing organisation's included."""
    from biotracker import chain

    windows = chain.plan_windows(engine, Window(as_utc(dt.date(2025, 12, 8)), as_utc(dt.date(2025, 12, 15))),
                                 dt.date(2025, 12, 22))
    _, built = chain.incidents(engine, windows, report_ids)
    chain.score(engine, windows, built)
    _, assessed = chain.lens(engine, built)
    chain.alerts(engine, windows, assessed)


def stored_counts(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(reports)).scalar_one(),
            conn.execute(select(func.count()).select_from(raw_payloads)).scalar_one(),
        )


def fill_report(page, country: str) -> None:
    page.fill("#c-title", TITLE)
    page.fill("#c-text", TEXT)
    page.fill("#c-country", country)
    page.fill("#c-when", REPORTED)
    page.select_option("#c-tlp", "AMBER+STRICT")


@pytest.fixture(scope="module")
def contributor(new_page):
    return new_page("nl_contrib")


def test_a_bad_country_is_shown_next_to_its_field_and_nothing_is_stored(contributor, demo_server, axe, shot):
    before = stored_counts(demo_server.engine)
    contributor.goto("/contribute")
    axe(contributor, "contribute")
    fill_report(contributor, "XXX")
    contributor.click("#contribute-form button[type=submit]")
    error = contributor.locator("#err-country_iso3")
    assert "'XXX' is not an ISO 3166 alpha-3 country code" in error.inner_text()
    assert contributor.locator("#c-country").get_attribute("aria-invalid") == "true"
    assert contributor.locator("#c-title").input_value() == TITLE, "the form comes back filled in"
    assert contributor.locator("[role=alert]").count() == 1
    assert stored_counts(demo_server.engine) == before
    axe(contributor, "contribute-field-error")
    shot(contributor, "contribute-field-error")


def test_a_csv_upload_with_a_bad_row_names_the_row_and_stores_nothing(contributor, demo_server, tmp_path):
    before = stored_counts(demo_server.engine)
    upload = tmp_path / "reports.csv"
    upload.write_text(
        "title,country_iso3,reported_at,tlp\n"
        f"Fine row,{COUNTRY},2025-12-10T00:00:00Z,AMBER+STRICT\n"
        "Bad row,NLD,not a date,AMBER+STRICT\n",
        encoding="utf-8",
    )
    contributor.goto("/contribute")
    contributor.set_input_files("#c-file", str(upload))
    contributor.click("#csv-form button[type=submit]")
    assert contributor.locator("#err-csv").inner_text().startswith("row 2: reported_at:")
    assert stored_counts(demo_server.engine) == before


def test_a_report_contributed_through_the_form_is_listed_as_my_organisations(contributor, demo_server, shot):
    contributor.goto("/contribute")
    fill_report(contributor, COUNTRY.lower())  # the form upper-cases the code
    contributor.click("#contribute-form button[type=submit]")
    contributor.wait_for_url("**/contribute?done=stored")
    row = contributor.locator("#my-contributions tbody tr", has_text=TITLE)
    assert row.count() == 1
    assert "TLP:AMBER+STRICT" in row.inner_text() and COUNTRY in row.inner_text()
    report_id = row.get_attribute("data-report-id")
    with demo_server.engine.connect() as conn:
        stored = conn.execute(select(reports).where(reports.c.report_id == report_id)).mappings().one()
    assert stored["originator_org"] == "NCB-NL" and stored["disease"] == "anthrax"
    shot(contributor, "contribute-mine")


def test_a_contribution_is_corrected_through_the_same_form(contributor, demo_server):
    contributor.goto("/contribute")
    row = contributor.locator("#my-contributions tbody tr", has_text=TITLE)
    report_id = row.get_attribute("data-report-id")
    row.get_by_role("link", name=f"Correct {TITLE}").click()
    assert contributor.locator("#c-title").input_value() == TITLE, "the form holds the report as stored"
    contributor.fill("#c-text", TEXT + " Two more goats died.")
    contributor.fill("#c-country", "")
    contributor.fill("#c-country", "XYZ")
    contributor.click("#contribute-form button[type=submit]")
    assert "'XYZ' is not an ISO 3166 alpha-3" in contributor.locator("#err-country_iso3").inner_text()
    contributor.fill("#c-country", COUNTRY)
    contributor.click("#contribute-form button[type=submit]")
    contributor.wait_for_url("**/contribute?done=corrected")
    assert contributor.locator("#my-contributions tbody tr", has_text=TITLE).count() == 1
    with demo_server.engine.connect() as conn:
        text = conn.execute(select(reports.c.text).where(reports.c.report_id == report_id)).scalar_one()
    assert text.endswith("Two more goats died."), "same id, corrected content"


def _contribution_id(engine) -> str:
    with engine.connect() as conn:
        return conn.execute(select(reports.c.report_id).where(reports.c.title == TITLE)).scalar_one()


def _alert_ids_of(engine, report_id: str) -> set[str]:
    with engine.connect() as conn:
        incidents = set(
            conn.execute(
                select(incident_reports.c.incident_id).where(incident_reports.c.report_id == report_id)
            ).scalars()
        )
        return set(conn.execute(select(alerts.c.alert_id).where(alerts.c.incident_id.in_(incidents))).scalars())


def test_after_the_pipeline_its_organisation_sees_it_and_another_does_not(new_page, analyst, demo_server, shot):
    report_id = _contribution_id(demo_server.engine)
    run_pipeline(demo_server.engine, [report_id])
    assert _alert_ids_of(demo_server.engine, report_id), "it raised an alert"
    other = new_page("fr_analyst")
    analyst.goto(f"/search?q={WORD.lower()}")
    assert analyst.locator("#report-results li", has_text=TITLE).count() == 1
    assert analyst.locator("#incident-results li").count() >= 1
    shot(analyst, "search-own-contribution")
    incident_page = analyst.locator("#incident-results a").first.get_attribute("href")
    INCIDENT_PAGES.append(incident_page)
    assert analyst.goto(incident_page).status == 200 and TITLE in analyst.content()
    analyst.goto("/map")
    assert analyst.locator(f"circle.small-country[data-iso3={COUNTRY}]").count() == 1
    assert analyst.locator(f"#map-countries a[href='/map?country={COUNTRY}']").count() == 1
    analyst.goto(f"/map?country={COUNTRY}")
    alert_page = analyst.locator(".map-alerts a").first.get_attribute("href")
    ALERT_PAGES.append(alert_page)
    assert analyst.goto(alert_page).status == 200
    shot(analyst, "alert-of-own-contribution")
    other.goto(f"/search?q={WORD.lower()}")
    assert other.locator("#report-results li").count() == 0
    assert other.locator("#incident-results li").count() == 0
    assert WORD not in other.content()
    other.goto("/map")
    assert other.locator(f"[data-iso3={COUNTRY}].alert-marker").count() == 0
    assert WORD not in other.content()
    assert other.goto(alert_page).status == 404, "another organisation's alert page does not exist for it"
    assert other.goto(incident_page).status == 404, "nor its incident page"
    assert WORD not in other.content()


def test_a_withdrawn_report_disappears_from_every_page(contributor, analyst, demo_server):
    report_id = _contribution_id(demo_server.engine)
    contributor.goto("/contribute")
    row = contributor.locator("#my-contributions tbody tr", has_text=TITLE)
    row.get_by_role("button", name=f"Withdraw {TITLE}").click()
    contributor.wait_for_url("**/contribute?done=withdrawn")
    assert contributor.locator("#my-contributions tbody tr", has_text=TITLE).count() == 0
    assert WORD not in contributor.content()
    run_pipeline(demo_server.engine, [report_id])
    assert _alert_ids_of(demo_server.engine, report_id) == set(), "no derived item rests on a tombstone"
    with demo_server.engine.connect() as conn:  # the tombstone keeps the id and marking, not the content
        tombstone = conn.execute(select(reports).where(reports.c.report_id == report_id)).mappings().one()
    assert tombstone["withdrawn_at"] is not None and WORD not in tombstone["title"] + tombstone["text"]
    for path in (f"/search?q={WORD.lower()}", "/map", "/contribute", "/"):
        analyst.goto(path)
        assert WORD not in analyst.content(), path
    analyst.goto("/map")
    assert analyst.locator(f"[data-iso3={COUNTRY}].alert-marker").count() == 0
    assert analyst.goto(ALERT_PAGES[0]).status == 404, "the alert rested on the withdrawn report only"
    assert analyst.goto(INCIDENT_PAGES[0]).status == 404, "and so did its incident"


def test_markup_in_a_contribution_is_shown_as_text_on_every_page(contributor):
    hostile = '<img src=x onerror="window.pwned=1"><script>window.pwned=1</script> Coxiella zoonosis'
    contributor.goto("/contribute")
    contributor.fill("#c-title", hostile)
    contributor.fill("#c-country", "NLD")
    contributor.fill("#c-when", "2025-06-02T08:00")
    contributor.click("#contribute-form button[type=submit]")
    contributor.wait_for_url("**/contribute?done=stored")
    row = contributor.locator("#my-contributions tbody tr", has_text="Coxiella zoonosis")
    assert row.locator("td").first.inner_text() == hostile
    contributor.goto("/search?q=coxiella")
    assert contributor.locator("#report-results strong").first.inner_text() == hostile
    assert contributor.evaluate("() => window.pwned") is None, "no markup of a report ever runs"
    contributor.goto("/contribute")
    row = contributor.locator("#my-contributions tbody tr", has_text="Coxiella zoonosis")
    row.get_by_role("button").click()
    contributor.wait_for_url("**/contribute?done=withdrawn")
