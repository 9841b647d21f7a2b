"""The map of current alerts, the sources page and search, in the browser over the demo's store: markers
drawn from the bundled geometry, source health and quarantine for operators only, and search that
finds only what the policy lets the caller see."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from biotracker.access import Role
from biotracker.db.tables import quarantine, raw_payloads, reports
from biotracker.raw.quarantine import quarantine_item
from biotracker.schema import QuarantineItem
from biotracker.server import accounts
from tests.server.conftest import NOW, PASSWORD

REASON = "unexpected <b>markup</b> in field 'date': not a date"


def test_the_map_draws_a_marker_for_every_alert_country_and_filters_like_the_queue(analyst, axe, shot):
    analyst.goto("/map")
    svg = analyst.locator("svg#alert-map")
    assert svg.get_attribute("role") == "img" and svg.locator("title").count() >= 1
    markers = analyst.locator("svg#alert-map circle.alert-marker")
    assert markers.count() > 0, "the demo's current alerts are on the map"
    listed = analyst.locator("#map-countries li").count()
    assert markers.count() == listed, "one marker per alert country, small countries included"
    assert analyst.evaluate("() => document.documentElement.scrollWidth") <= 1366
    axe(analyst, "map")
    shot(analyst, "map")
    country = analyst.locator("svg#alert-map circle.alert-marker").first.get_attribute("data-iso3")
    analyst.goto(f"/map?country={country}")
    assert {m.get_attribute("data-iso3") for m in analyst.locator("circle.alert-marker").all()} == {country}
    analyst.goto("/map?tier=low&tier=critical&status=closed")
    assert analyst.locator("input[name=tier][value=low]").is_checked()
    assert analyst.locator("input[name=status][value=closed]").is_checked()


@pytest.fixture(scope="module")
def held_item(demo_server) -> dict:
    """One quarantined item of a feed, tied to one of its archived payloads (hostile markup in its reason)."""
    engine = demo_server.engine
    with engine.begin() as conn:
        payload = conn.execute(
            select(raw_payloads).where(raw_payloads.c.source == "who_don").limit(1)
        ).mappings().one()
        qid = quarantine_item(conn, QuarantineItem(source="who_don", stage="normalise", what="item 7",
                                                   reason=REASON, raw_sha256=payload["sha256"],
                                                   excerpt="<script>alert(1)</script>"))
        accounts.add_user(conn, "nl_operator", "NCB-NL", Role.OPERATOR, PASSWORD, NOW)
    return {"quarantine_id": qid, "sha256": payload["sha256"], "url": payload["url"]}


def test_an_operator_sees_source_health_and_the_quarantined_payloads_metadata(new_page, held_item, axe, shot):
    operator = new_page("nl_operator")
    operator.goto("/sources")
    rows = operator.locator("#sources tbody tr")
    assert rows.count() > 1
    who_don = operator.locator("#sources tr[data-source=who_don]")
    assert re.search(r"fresh|silent|failing|never fetched", who_don.locator("td.state").inner_text())
    link = operator.locator(f"a[href='/sources/quarantine/{held_item['quarantine_id']}']")
    assert link.count() == 1
    assert operator.locator(".reason", has_text="unexpected <b>markup</b>").count() >= 1, "shown as text"
    axe(operator, "sources")
    shot(operator, "sources")
    link.click()
    assert operator.locator("#reason").inner_text() == REASON
    assert held_item["sha256"] in operator.locator("#payload").inner_text()
    assert operator.locator("pre.excerpt").inner_text() == "<script>alert(1)</script>"
    axe(operator, "quarantine-item")
    shot(operator, "quarantine-item")


def test_an_analyst_gets_no_source_data_at_all(analyst, held_item):
    response = analyst.goto("/sources")
    assert response.status == 403
    assert analyst.locator("#operators-only").count() == 1
    assert analyst.locator("#sources").count() == 0 and "who_don" not in analyst.content()
    response = analyst.goto(f"/sources/quarantine/{held_item['quarantine_id']}")
    assert response.status == 403 and held_item["sha256"] not in analyst.content()


def _word_of(title: str) -> str:
    return max(re.findall(r"[A-Za-z]{5,}", title), key=len)


def test_search_finds_a_report_by_a_word_of_its_title_only_for_those_allowed(new_page, analyst, demo_server, axe, shot):
    with demo_server.engine.connect() as conn:
        public = conn.execute(
            select(reports.c.report_id, reports.c.title)
            .where(reports.c.tlp == "CLEAR", reports.c.source == "who_don")
            .order_by(reports.c.report_id)
            .limit(1)
        ).one()
        police = conn.execute(
            select(reports.c.report_id, reports.c.title)
            .where(reports.c.source == "police_reports")
            .order_by(reports.c.report_id)
            .limit(1)
        ).one()
    analyst.goto(f"/search?q={_word_of(public.title)}")
    assert analyst.locator(f"#report-results li[data-report-id='{public.report_id}']").count() == 1
    axe(analyst, "search")
    shot(analyst, "search")
    admin = new_page("ip_admin")
    for page in (analyst, admin):  # drop-folder police reports are RED with no named user: nobody's
        page.goto(f"/search?q={_word_of(police.title)}")
        assert page.locator(f"[data-report-id='{police.report_id}']").count() == 0
        assert police.title not in page.content()
    analyst.fill("#s-q", '" OR 1=1 -- <script>')
    analyst.press("#s-q", "Enter")
    assert analyst.locator("#no-reports").count() == 1
