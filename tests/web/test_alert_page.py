"""The alert page in a real browser: opened from the queue, its chart and map drawn, the evidence
marked in the reports, triage, assignment, a note and a relevance label through its forms (seen in
the queue, the history, the audit log and the relevance model's training table), exports through the
outputs' writers, 404 for alerts outside the caller's view, keyboard reachability and axe-core."""

from __future__ import annotations

import datetime as dt
import json
import re

from sqlalchemy import and_, select

from biotracker.access import Principal, Role
from biotracker.db.tables import alert_feedback, alerts, signals
from biotracker.outputs.cap import validate_cap
from biotracker.server.visibility import public_id, scope_of
from biotracker.web.alert_page import REPORTS_SHOWN
from tests.web.conftest import audit_rows, tab_to
from tests.web.test_queue import rules_of, rows

ANALYST = Principal("nl_analyst", "NCB-NL", Role.ANALYST)


def alarmed_alert(server) -> str:
    """An alert of the analyst's view whose series has an alarm week within the charted weeks."""
    with server.engine.connect() as conn:
        scope = scope_of(conn, ANALYST, rules_of(server))
        found = conn.execute(
            select(alerts.c.alert_id)
            .join(signals, and_(signals.c.scope == alerts.c.scope, signals.c.series_key == alerts.c.series_key))
            .where(alerts.c.scope == scope.key, alerts.c.incident_id.is_not(None), signals.c.alarm.is_(True),
                   signals.c.period_start.between(alerts.c.period_start - dt.timedelta(weeks=20),
                                                  alerts.c.period_start))
            .order_by(alerts.c.alert_id)
        ).scalars().first()
    assert found, "the demo has alerts with alarm weeks"
    return public_id(scope, found)


def test_an_alert_opened_from_the_queue_shows_why_its_trend_map_and_marked_evidence(analyst, axe, shot):
    analyst.goto("/?tier=critical")
    first = rows(analyst)[0]
    analyst.get_by_role("link", name=first["headline"]).first.click()
    analyst.wait_for_url(re.compile(rf".*/alerts/{first['id']}$"))
    assert analyst.locator("#alert-headline").inner_text() == first["headline"]
    assert analyst.locator("#reasons li").count() > 0
    assert analyst.locator("#trend-chart rect.observed").count() > 0, "the chart draws the weekly series"
    assert analyst.locator("#alert-map path.alert-country").count() == 1, "the map fills the alert's country"
    assert analyst.locator("#alert-map circle.alert-marker").count() == 1
    assert analyst.locator(".report mark").count() > 0, "what the extractor read is marked in the report"
    assert analyst.locator("#agent-flags li a").count() > 0, "agent flags cite the lists they come from"
    assert analyst.evaluate("() => document.documentElement.scrollWidth") <= 1366
    axe(analyst, "alert")
    shot(analyst, "alert")


def test_the_trend_chart_marks_the_alarm_weeks(analyst, demo_server, shot):
    analyst.goto(f"/alerts/{alarmed_alert(demo_server)}")
    assert analyst.locator("#trend-chart circle.alarm").count() > 0
    assert analyst.locator("#trend-chart rect.alert-week").count() > 0
    assert analyst.locator("#detector dt").all_inner_texts()[:4] == ["Method", "Week", "Observed", "Expected"]
    shot(analyst, "alert-alarm-weeks")


def test_triage_assign_note_and_label_from_the_page_show_in_the_queue_history_audit_and_training_data(
        analyst, demo_server, axe, shot):
    alert_id = alarmed_alert(demo_server)
    analyst.goto(f"/alerts/{alert_id}")
    status_before = analyst.locator("#alert-status").inner_text()
    target = "triaged" if status_before == "new" else "closed"
    analyst.select_option("#status", target)
    analyst.fill("#status-note", "looked at it <b>closely</b>")
    analyst.get_by_role("button", name="Set status").click()
    assert analyst.locator(".notice").inner_text() == "Status changed."
    assert analyst.locator("#alert-status").inner_text() == target
    analyst.select_option("#assignee", "nl_analyst")
    analyst.get_by_role("button", name="Assign").click()
    assert analyst.locator("#alert-assignee").inner_text() == "nl_analyst"
    analyst.fill("#note", "Called the NCB; no follow-up needed")
    analyst.get_by_role("button", name="Add note").click()
    history = analyst.locator("#history").inner_text()
    assert f"{status_before} → {target}" in history and "looked at it <b>closely</b>" in history
    assert "Called the NCB; no follow-up needed" in history and "assigned to nl_analyst" in history
    analyst.get_by_role("button", name="Relevant", exact=True).click()
    assert analyst.locator("#my-label").inner_text() == "relevant"
    axe(analyst, "alert-after-actions")
    shot(analyst, "alert-after-actions")
    analyst.goto(f"/?q={alert_id}")
    assert [(r["status"], r["assignee"]) for r in rows(analyst)] == [(target, "nl_analyst")]
    for action in ("alert_status", "alert_assign", "alert_note", "feedback"):
        assert (alert_id,) in {tuple(a["record_ids"]) for a in audit_rows(demo_server, action)
                               if a["actor"] == "nl_analyst"}, action
    with demo_server.engine.connect() as conn:  # the table `biotracker feedback` writes and training reads
        labels = conn.execute(select(alert_feedback.c.label, alert_feedback.c.actor)).all()
    assert ("relevant", "nl_analyst") in {(lab.label, lab.actor) for lab in labels}


def test_a_move_the_lifecycle_forbids_is_refused_with_a_message(analyst, demo_server):
    alert_id = alarmed_alert(demo_server)
    analyst.goto(f"/alerts/{alert_id}")
    current = analyst.locator("#alert-status").inner_text()
    offered = analyst.locator("#status option").all_inner_texts()
    assert "new" not in offered and current not in offered, "only the lifecycle's next statuses are offered"
    # a tampered form asking for a move the lifecycle does not allow (back to "new")
    analyst.evaluate("() => { const o = document.createElement('option'); o.value = o.text = 'new'; "
                     "document.getElementById('status').append(o); }")
    analyst.select_option("#status", "new")
    analyst.get_by_role("button", name="Set status").click()
    assert analyst.locator(".notice.error").inner_text() == (
        "That status change is not allowed from the alert's current status.")
    assert analyst.locator("#alert-status").inner_text() == current
    assert (alert_id,) in {tuple(a["record_ids"]) for a in audit_rows(demo_server, "alert_status")
                           if a["outcome"] == "invalid"}


def test_exports_come_from_the_outputs_writers_and_carry_the_alert(analyst, demo_server):
    analyst.goto("/?tier=critical")
    alert_id = rows(analyst)[0]["id"]
    analyst.goto(f"/alerts/{alert_id}")
    bodies = {}
    for fmt in ("json", "cap", "stix", "misp"):
        with analyst.expect_download() as download:
            analyst.locator(f'a[href="/alerts/{alert_id}/export/{fmt}"]').click()
        bodies[fmt] = open(download.value.path(), encoding="utf-8").read()
        assert download.value.suggested_filename.startswith(alert_id)
    document = json.loads(bodies["json"])
    assert [a["alert_id"] for a in document["alerts"]] == [alert_id]  # the natural id, as on the page
    for fmt, body in bodies.items():  # no scope suffix (``~`` and ten hex digits) anywhere
        assert not re.search(r"~[0-9a-f]{10}", body), fmt
    validate_cap(bodies["cap"])
    assert json.loads(bodies["stix"])["type"] == "bundle"
    assert json.loads(bodies["misp"])["Event"]["info"]
    exports = [a for a in audit_rows(demo_server, "read") if a["detail"].startswith("alert export")]
    assert {a["detail"] for a in exports if tuple(a["record_ids"]) == (alert_id,)} == {
        f"alert export ({f})" for f in ("json", "cap", "stix", "misp")}


def test_an_alert_outside_the_callers_view_answers_404_and_shows_nothing_of_it(analyst, demo_server, axe):
    with demo_server.engine.connect() as conn:
        mine = scope_of(conn, ANALYST, rules_of(demo_server))
        police = conn.execute(select(alerts).where(alerts.c.rule == "law-enforcement-intake")).mappings().first()
    assert police is not None and police["scope"] != mine.key
    hidden = police["alert_id"].split("~")[0]
    response = analyst.goto(f"/alerts/{hidden}")
    assert response.status == 404
    assert police["headline"] not in analyst.content()
    assert analyst.goto(f"/alerts/{hidden}/export/json").status == 404
    axe(analyst, "alert-404")
    assert (hidden,) in {tuple(a["record_ids"]) for a in audit_rows(demo_server, "read") if a["outcome"] == "not_found"}


def test_every_alert_action_is_reachable_by_keyboard(analyst, demo_server):
    analyst.goto(f"/alerts/{alarmed_alert(demo_server)}")
    for selector in ("#status", "#status-note", "form[action$='/status'] button",
                     "#assignee", "form[action$='/assignee'] button", "#note", "form[action$='/note'] button",
                     "button[value=relevant]", "button[value=not-relevant]", "a[href$='/export/cap']",
                     ".report a"):
        assert tab_to(analyst, selector), f"Tab never reaches {selector}"


def test_notes_and_assignments_of_another_organisation_stay_with_it(analyst, new_page, demo_server):
    alert_id = alarmed_alert(demo_server)
    french = new_page("fr_analyst")
    french.goto(f"/alerts/{alert_id}")
    french.select_option("#assignee", "fr_analyst")
    french.get_by_role("button", name="Assign").click()
    french.fill("#note", "Note of NCB-FR only")
    french.get_by_role("button", name="Add note").click()
    assert "Note of NCB-FR only" in french.locator("#history").inner_text()
    assert french.locator("#assignee option").all_inner_texts() == ["nobody", "fr_analyst"], \
        "an alert is assigned within the organisation (contributors do not triage)"
    analyst.goto(f"/alerts/{alert_id}")
    assert "NCB-FR" not in analyst.locator("#history").inner_text()
    assert "fr_analyst" not in analyst.content()
    analyst.goto(f"/?q={alert_id}")
    assert rows(analyst)[0]["assignee"] != "fr_analyst"


def test_the_incident_page_groups_its_reports_by_why_they_were_merged(analyst, demo_server, axe, shot):
    analyst.goto(f"/alerts/{alarmed_alert(demo_server)}")
    reports_on_alert = int(re.search(r"\((\d+)\)", analyst.locator("#reports-h").inner_text()).group(1))
    assert analyst.locator(".report").count() == min(reports_on_alert, REPORTS_SHOWN), "the first ones, with text"
    analyst.locator(".summary a[href^='/incidents/']").click()
    analyst.wait_for_url(re.compile(r".*/incidents/inc-[0-9a-f]+$"))
    assert analyst.locator("#group-seed + table tbody tr").count() == 1, "one first report names the incident"
    assert analyst.locator("table.incident-reports tbody tr").count() == reports_on_alert
    assert analyst.locator("#incident-alerts a").count() >= 1
    axe(analyst, "incident")
    shot(analyst, "incident")
    assert analyst.goto("/incidents/inc-not-there").status == 404
