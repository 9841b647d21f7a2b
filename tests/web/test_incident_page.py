"""The incident page in a real browser: reports grouped with the reason each was merged, a report
split off (it leaves, the split is audited and kept in ``incident_overrides``) and joined back, two
incidents merged (``incident_merges``) and the merge undone, the
mGFT worksheet filled in by two assessors (both latest totals and the history of versions), 404
outside the caller's view, links from the queue, keyboard reachability and axe-core."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from biotracker.access import Principal, Role
from biotracker.db.tables import incident_overrides, incident_reports, worksheet_entries
from biotracker.incidents.cluster import incident_id_for
from biotracker.server import accounts
from biotracker.server.visibility import public_id, scope_of
from tests.server.conftest import PASSWORD
from tests.web.conftest import audit_rows, log_in, tab_to
from tests.web.test_queue import rules_of

ANALYST = Principal("nl_analyst", "NCB-NL", Role.ANALYST)
SECOND = "nl_second_analyst"


def members_of(server, stored: str) -> list[dict]:
    with server.engine.connect() as conn:
        query = select(incident_reports).where(incident_reports.c.incident_id == stored)
        return [dict(r) for r in conn.execute(query.order_by(incident_reports.c.report_id)).mappings()]


@pytest.fixture(scope="module")
def incident(demo_server) -> dict:
    """A merged incident of the analyst's view: its ids, and a report that was merged in (not the seed)."""
    with demo_server.engine.connect() as conn:
        scope = scope_of(conn, ANALYST, rules_of(demo_server))
        stored = conn.execute(
            select(incident_reports.c.incident_id)
            .where(incident_reports.c.scope == scope.key, incident_reports.c.link == "same_event")
            .group_by(incident_reports.c.incident_id)
            .having(func.count() >= 2)
            .order_by(func.count().desc(), incident_reports.c.incident_id)
        ).scalars().first()
    assert stored, "the demo has incidents merged from several reports"
    members = members_of(demo_server, stored)
    merged = next(m for m in members if m["link"] == "same_event")
    return {"stored": stored, "id": public_id(scope, stored), "report": merged["report_id"],
            "reason": merged["reason"], "members": len(members)}


@pytest.fixture(scope="module")
def second_analyst(demo_server, new_page):
    """A second analyst of the same organisation (the same view): the worksheet's other assessor."""
    with demo_server.engine.begin() as conn:
        accounts.add_user(conn, SECOND, "NCB-NL", Role.ANALYST, PASSWORD, dt.datetime.now(dt.UTC))
    return new_page(SECOND)


def shown_reports(page) -> list[str]:
    return page.locator("table.incident-reports tbody tr").evaluate_all("els => els.map(e => e.dataset.reportId)")


def test_the_page_groups_the_reports_with_the_reason_each_was_merged(analyst, incident, axe, shot):
    analyst.goto(f"/incidents/{incident['id']}")
    assert analyst.locator("#report-count").inner_text() == str(incident["members"])
    assert analyst.locator("#group-seed + table tbody tr").count() == 1, "one report starts the incident"
    merged = analyst.locator(f'#group-same_event + table tr[data-report-id="{incident["report"]}"]')
    assert merged.locator(".reason").inner_text() == incident["reason"]
    assert analyst.locator("#indicators tbody tr").count() == 14, "all of Radosavljević's indicators are listed"
    assert analyst.evaluate("() => document.documentElement.scrollWidth") <= 1366
    axe(analyst, "incident")
    shot(analyst, "incident")


def test_the_queue_links_each_alert_to_its_incident(analyst):
    analyst.goto("/")
    link = analyst.locator('#queue a[href^="/incidents/"]').first
    target = link.get_attribute("href")
    link.click()
    analyst.wait_for_url(re.compile(f".*{re.escape(target)}$"))
    assert analyst.locator("#reports-h").is_visible()


def test_a_report_split_off_leaves_the_incident_is_audited_and_the_split_can_be_undone(
        analyst, demo_server, incident, shot):
    report = incident["report"]
    analyst.goto(f"/incidents/{incident['id']}")
    analyst.get_by_role("button", name=f"Split off: {report}").click()
    analyst.wait_for_url(re.compile(r".*/incidents/.*done=split"))
    assert analyst.locator(".notice").inner_text().startswith("Report split off")
    assert report not in shown_reports(analyst)
    assert len(shown_reports(analyst)) == incident["members"] - 1
    split = audit_rows(demo_server, "incident_split")[-1]
    assert (split["actor"], split["outcome"]) == ("nl_analyst", "ok")
    assert report in split["record_ids"]
    with demo_server.engine.connect() as conn:
        assert conn.execute(select(incident_overrides.c.action).where(
            incident_overrides.c.report_id == report)).scalar() == "detach"

    alone = incident_id_for(report)  # the split report now starts an incident of its own
    analyst.goto(f"/incidents/{alone}")
    assert shown_reports(analyst) == [report]
    assert analyst.locator("#group-detached").is_visible()
    shot(analyst, "incident-split-off")
    analyst.get_by_role("button", name=f"Undo split: {report}").click()
    analyst.wait_for_url(re.compile(r".*/incidents/.*done=join"))
    assert report in shown_reports(analyst)
    assert len(shown_reports(analyst)) == incident["members"]
    assert audit_rows(demo_server, "incident_join")[-1]["record_ids"][-1] == report
    with demo_server.engine.connect() as conn:
        assert conn.execute(select(incident_overrides).where(incident_overrides.c.report_id == report)).first() is None
    assert {m["report_id"] for m in members_of(demo_server, incident["stored"])} >= {report}


def test_two_incidents_merged_stay_together_and_the_merge_can_be_undone(analyst, demo_server, incident, shot):
    with demo_server.engine.connect() as conn:
        scope = scope_of(conn, ANALYST, rules_of(demo_server))
        lone = conn.execute(
            select(incident_reports.c.incident_id)
            .where(incident_reports.c.scope == scope.key, incident_reports.c.incident_id != incident["stored"])
            .group_by(incident_reports.c.incident_id)
            .having(func.count() == 1)
            .order_by(incident_reports.c.incident_id)
        ).scalars().first()
    lone_report = members_of(demo_server, lone)[0]["report_id"]
    analyst.goto(f"/incidents/{incident['id']}")
    analyst.fill("#merge-other", public_id(scope, lone))
    analyst.fill("#merge-note", "the same outbreak, reported late")
    analyst.get_by_role("button", name="Merge", exact=True).click()
    analyst.wait_for_url(re.compile(r".*/incidents/.*done=merge"))
    assert lone_report in shown_reports(analyst)
    assert len(shown_reports(analyst)) == incident["members"] + 1
    assert analyst.locator(f'#group-merged + table tr[data-report-id="{lone_report}"] .reason').inner_text().startswith(
        "merged with the incident of")
    merge = audit_rows(demo_server, "incident_merge")[-1]
    assert (merge["actor"], merge["outcome"]) == ("nl_analyst", "ok") and lone_report in merge["record_ids"]
    shot(analyst, "incident-merged")

    analyst.get_by_role("button", name=f"Undo merge: {lone_report}").click()
    analyst.wait_for_url(re.compile(r".*/incidents/.*done=unmerge"))
    assert shown_reports(analyst) == [lone_report]
    assert audit_rows(demo_server, "incident_unmerge")[-1]["record_ids"][-1] == lone_report
    analyst.goto(f"/incidents/{incident['id']}")
    assert len(shown_reports(analyst)) == incident["members"]
    assert lone_report not in shown_reports(analyst)


def test_merging_with_an_incident_outside_the_view_is_refused(analyst, incident):
    analyst.goto(f"/incidents/{incident['id']}")
    analyst.fill("#merge-other", "inc-not-in-my-view")
    analyst.get_by_role("button", name="Merge", exact=True).click()
    assert analyst.locator(".notice.error").inner_text().startswith("Give the id of another incident")
    assert len(shown_reports(analyst)) == incident["members"]


def fill_mgft(page, scores: dict[str, tuple[int, str]]) -> None:
    page.locator("#worksheet-mgft summary", has_text="Score it yourself").click()
    for criterion, (points, evidence) in scores.items():
        page.select_option(f"#mgft-{criterion}-points", str(points))
        page.fill(f"#mgft-{criterion}-evidence", evidence)
    page.get_by_role("button", name="Save mgft worksheet").click()
    page.wait_for_url(re.compile(r".*done=worksheet.*"))


def latest_totals(page) -> dict[str, tuple[str, str]]:
    cells = page.locator("#worksheet-mgft table.ws-latest tbody tr").evaluate_all(
        "trs => trs.map(tr => [...tr.querySelectorAll('td')].map(td => td.innerText))")
    return {c[0]: (c[1], c[2]) for c in cells if len(c) == 4}


def test_two_assessors_fill_in_the_mgft_worksheet_and_every_version_is_kept(
        analyst, second_analyst, demo_server, incident, axe, shot):
    here = f"/incidents/{incident['id']}"
    analyst.goto(here)
    fill_mgft(analyst, {"biorisk": (2, "Tier 1 agent named in <b>two</b> reports"), "time": (1, "Off season")})
    second_analyst.goto(here)
    fill_mgft(second_analyst, {"biorisk": (3, "Select agent"), "time": (1, "Off season"), "rapid_spread": (0, "Slow")})
    analyst.goto(here)
    fill_mgft(analyst, {"biorisk": (3, "Agreed after discussion"), "time": (1, "Off season")})

    assert analyst.locator(".notice").inner_text() == "Worksheet saved as a new version."
    assert latest_totals(analyst) == {"nl_analyst": ("2", "4 (unweighted)"), SECOND: ("1", "4 (unweighted)")}
    history = analyst.locator("#worksheet-mgft ol.ws-history > li").all_text_contents()
    assert [re.search(r"(\S+) version (\d)", h).groups() for h in history] == [
        ("nl_analyst", "1"), (SECOND, "1"), ("nl_analyst", "2")]
    assert "Tier 1 agent named in <b>two</b> reports" in analyst.locator("#worksheet-mgft ol.ws-history").text_content()
    assert "Assessors agree on 100% of the criteria" in analyst.locator("#worksheet-mgft").inner_text()
    with demo_server.engine.connect() as conn:
        versions = conn.execute(select(worksheet_entries.c.assessor, worksheet_entries.c.version).where(
            worksheet_entries.c.incident_id == incident["stored"])).all()
    assert sorted(versions) == [("nl_analyst", 1), ("nl_analyst", 2), (SECOND, 1)]
    assert len(audit_rows(demo_server, "worksheet")) == 3
    analyst.locator("#worksheet-mgft summary", has_text="History").click()
    axe(analyst, "incident-worksheet")
    shot(analyst, "incident-worksheet")


def test_a_score_without_evidence_is_refused(analyst, demo_server, incident):
    before = len(audit_rows(demo_server, "worksheet"))
    analyst.goto(f"/incidents/{incident['id']}")
    analyst.locator("#worksheet-mgft summary", has_text="Score it yourself").click()
    analyst.select_option("#mgft-biorisk-points", "2")
    analyst.get_by_role("button", name="Save mgft worksheet").click()
    assert analyst.locator(".notice.error").inner_text().startswith("Check the worksheet")
    assert len(audit_rows(demo_server, "worksheet")) == before


def test_an_incident_outside_the_view_is_not_found_and_contributors_may_not_split(new_page, demo_server, incident):
    analyst = new_page("nl_analyst")
    assert analyst.goto("/incidents/inc-nothing-like-this").status == 404
    contributor = new_page("nl_contrib")
    response = contributor.request.post(f"/incidents/{incident['id']}/split",
                                        form={"report_id": incident["report"]}, max_redirects=0)
    assert response.status == 403, "no CSRF token: refused before anything happens"
    contributor.goto(f"/incidents/{incident['id']}")
    assert contributor.get_by_role("button", name=re.compile("Split off")).count() == 0
    assert contributor.locator("#worksheet-mgft form").count() == 0


def test_every_incident_action_is_reachable_by_keyboard(analyst, incident):
    analyst.goto(f"/incidents/{incident['id']}")
    assert tab_to(analyst, f'button[aria-label="Split off: {incident["report"]}"]')
    assert tab_to(analyst, "#merge-other")
    assert tab_to(analyst, "#worksheet-mgft details.score summary")
    analyst.keyboard.press("Enter")
    assert tab_to(analyst, "#mgft-biorisk-points")
