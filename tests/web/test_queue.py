"""The alert queue in a real browser: filters, saved views, bulk triage (status and assignee, with
CSRF, audited, through the lifecycle), keyboard reachability, hostile titles rendered as text, and
axe-core on every state of the page."""

from __future__ import annotations

import datetime as dt
import re

import httpx
from sqlalchemy import insert, select

from biotracker.access import Principal, Role
from biotracker.db.tables import alert_events, alerts
from biotracker.server.visibility import scope_of, stored_id
from tests.server.test_api import HOSTILE
from tests.web.conftest import audit_rows, tab_to


def rows(page) -> list[dict]:
    return page.locator("#queue tbody tr").evaluate_all(
        """trs => trs.map(tr => ({id: tr.dataset.alertId, tier: tr.querySelector('.tier').innerText,
             status: tr.querySelector('.status').innerText, assignee: tr.querySelector('.assignee').innerText,
             headline: tr.querySelector('td a').innerText}))"""
    )


def test_filtering_by_tier_and_text_narrows_the_queue_and_keeps_the_filters_in_the_url(analyst, axe, shot):
    analyst.goto("/")
    everything = rows(analyst)
    assert {r["tier"] for r in everything} >= {"critical", "high"}, "ranked: the most urgent tiers come first"
    assert [r["tier"] for r in everything] == sorted(
        (r["tier"] for r in everything), key=["critical", "high", "medium", "low"].index)
    analyst.get_by_label("critical").check()
    analyst.get_by_role("button", name="Apply").click()
    analyst.wait_for_url(re.compile(r".*tier=critical"))
    critical = rows(analyst)
    assert critical and {r["tier"] for r in critical} == {"critical"}
    word = critical[0]["headline"].split()[0]
    analyst.fill("#f-q", word)
    analyst.get_by_role("button", name="Apply").click()
    analyst.wait_for_url(re.compile(r".*q="))
    found = rows(analyst)
    assert critical[0]["id"] in {r["id"] for r in found} and {r["tier"] for r in found} == {"critical"}
    assert len(found) <= len(critical)
    assert analyst.locator("#f-q").input_value() == word, "the form shows the filters in force"
    axe(analyst, "queue-filtered")
    shot(analyst, "queue-filtered")
    analyst.fill("#f-q", "no alert is called this")
    analyst.get_by_role("button", name="Apply").click()
    analyst.wait_for_url(re.compile(r".*q=no"))
    assert analyst.locator("#queue-empty").is_visible()


def test_a_saved_view_belongs_to_its_user_and_reopens_the_same_filters(analyst, new_page):
    analyst.goto("/?tier=high&sort=newest")
    analyst.fill("#view-name", "High, newest")
    analyst.get_by_role("button", name="Save view").click()
    assert analyst.locator(".notice").inner_text() == "View saved."
    link = analyst.locator("ul.saved").get_by_role("link", name="High, newest")
    link.click()
    analyst.wait_for_url(re.compile(r".*tier=high.*sort=newest|.*sort=newest.*tier=high"))
    assert {r["tier"] for r in rows(analyst)} == {"high"}
    other = new_page("fr_analyst")
    assert other.locator("ul.saved").count() == 0, "another user's views are not listed"


def test_bulk_triage_changes_status_and_assignee_through_the_lifecycle_and_is_audited(analyst, demo_server, axe, shot):
    analyst.goto("/?tier=high")
    before = rows(analyst)[:2]
    assert all(r["status"] == "new" for r in before)
    for r in before:
        analyst.locator(f'tr[data-alert-id="{r["id"]}"] input[name=alert_id]').check()
    analyst.select_option("#bulk-status", "triaged")
    analyst.get_by_role("button", name="Set status").click()
    assert analyst.locator(".notice").inner_text() == "2 alert(s) changed."
    after = {r["id"]: r for r in rows(analyst)}
    assert all(after[r["id"]]["status"] == "triaged" for r in before)
    for r in before:
        analyst.locator(f'tr[data-alert-id="{r["id"]}"] input[name=alert_id]').check()
    analyst.select_option("#bulk-assignee", "nl_analyst")
    analyst.get_by_role("button", name="Assign").click()
    assert {r["id"]: r["assignee"] for r in rows(analyst)}[before[0]["id"]] == "nl_analyst"
    analyst.goto("/?assignee=nl_analyst")
    assert {r["id"] for r in rows(analyst)} == {r["id"] for r in before}
    axe(analyst, "queue-after-bulk")
    shot(analyst, "queue-after-bulk")
    audited = audit_rows(demo_server, "alert_status")
    assert {tuple(a["record_ids"]) for a in audited if a["actor"] == "nl_analyst"} >= {(r["id"],) for r in before}
    assert {tuple(a["record_ids"]) for a in audit_rows(demo_server, "alert_assign")} >= {(r["id"],) for r in before}
    with demo_server.engine.connect() as conn:  # the lifecycle's own record: who moved it, from what, to what
        moved = conn.execute(select(alert_events.c.actor, alert_events.c.from_status, alert_events.c.to_status)
                             .where(alert_events.c.note == "bulk triage")).all()
    assert {(m.actor, m.from_status, m.to_status) for m in moved} == {("nl_analyst", "new", "triaged")}


def test_bulk_triage_without_the_sessions_csrf_token_is_refused(analyst, demo_server):
    cookies = {c["name"]: c["value"] for c in analyst.context.cookies()}
    with httpx.Client(base_url=demo_server.url, cookies=cookies) as client:
        sent = client.post("/alerts/bulk", data={"alert_id": "x", "action": "status", "status": "closed"})
    assert sent.status_code == 403
    assert audit_rows(demo_server, "write_refused")[-1]["actor"] == "nl_analyst"


def test_every_queue_action_is_reachable_by_keyboard(analyst):
    analyst.goto("/")
    for selector in ("#f-agent", "#apply-filters", "#view-name", "#select-all",
                     "#bulk-status", "button[value=status]", "button[value=assign]", "#queue tbody a",
                     "a[rel=next]"):
        assert tab_to(analyst, selector), f"Tab never reaches {selector}"


def test_a_contributor_sees_the_queue_without_triage_controls(new_page):
    page = new_page("nl_contrib")
    assert page.locator("#queue tbody tr").count() > 0
    assert page.locator("#bulk-status").count() == 0 and page.locator("input[name=alert_id]").count() == 0


def test_hostile_titles_render_as_text(analyst, demo_server, shot):
    """Headlines from the API tests' hostile inputs: shown verbatim, never parsed as markup or run."""
    principal = Principal("nl_analyst", "NCB-NL", Role.ANALYST)
    with demo_server.engine.begin() as conn:
        scope = scope_of(conn, principal, rules_of(demo_server))
        template = dict(conn.execute(select(alerts).where(alerts.c.scope == scope.key)).mappings().first())
        for n, text in enumerate(HOSTILE):
            conn.execute(insert(alerts).values(
                template | {"alert_id": stored_id(scope, f"alert-hostile-{n}"), "headline": f"Hostile {text}",
                            "tier": "critical", "incident_id": None, "disease": f"Hostile disease {n}",
                            "period_start": dt.date(2099, 1, 5), "last_period": None}))
    dialogs = []
    analyst.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    analyst.goto("/?q=hostile")
    shown = {r["headline"] for r in rows(analyst)}
    assert shown == {f"Hostile {text}" for text in HOSTILE}
    assert analyst.locator("#queue script, #queue img").count() == 0
    analyst.get_by_role("link", name=f"Hostile {HOSTILE[1]}").click()
    assert analyst.locator("#alert-headline").inner_text() == f"Hostile {HOSTILE[1]}"
    assert analyst.locator("main img").count() == 0 and not dialogs
    shot(analyst, "hostile-alert")


def rules_of(server):
    from biotracker.outputs.audience import registered_source_kinds
    from biotracker.server.visibility import Rules

    return Rules(server.settings.community_org, registered_source_kinds(), server.settings.allow_anonymous)
