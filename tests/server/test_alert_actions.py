"""Alert lifecycle actions through the API (status, assignee, note, relevance feedback): they change
the caller's copy of the alert with the functions the CLI uses, land in the audit log, and are
refused properly: a session without its CSRF token, a read-only token, a contributor, and another
organisation's alert (404, as if it did not exist)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, select

from biotracker.db.tables import alert_feedback, audit_log, reports
from tests.server.conftest import LiveServer, server_settings
from tests.server.test_alerts import contribute_anthrax, derive_every_scope, walk
from tests.server.test_sessions import login, session_cookie


def contributed_alert(start_server, database_url, tmp_path) -> tuple[LiveServer, str]:
    live = start_server(server_settings(tmp_path, database_url, server_cookie_secure=False))
    contribute_anthrax(live)
    derive_every_scope(live)
    [alert] = walk(live, "nl_analyst")
    return live, alert["alert_id"]


def test_analysts_triage_their_organisations_alert_and_nobody_else_can(start_server, database_url, tmp_path):
    live, alert_id = contributed_alert(start_server, database_url, tmp_path)
    base = f"/api/v1/alerts/{alert_id}"
    with live.client("nl_analyst") as nl:
        moved = nl.post(f"{base}/status", json={"status": "triaged", "note": "looking into it"})
        assert moved.status_code == 200, moved.text
        assert moved.json()["status"] == "triaged"
        assert nl.post(f"{base}/status", json={"status": "new"}).status_code == 409, "not a lifecycle move"
        assigned = nl.post(f"{base}/assignee", json={"assignee": "nl_contrib"}).json()
        assert assigned["assignee"] == "nl_contrib"
        assert nl.post(f"{base}/assignee", json={"assignee": "fr_analyst"}).status_code == 422, \
            "only a user of the caller's organisation"
        assert nl.post(f"{base}/notes", json={"note": "<script>alert(1)</script>"}).status_code == 200
        labelled = nl.post(f"{base}/feedback", json={"label": "relevant", "note": "real outbreak"})
        assert labelled.status_code == 200
        assert nl.post(f"{base}/feedback", json={"label": "maybe"}).status_code == 422
        history = nl.get(base).json()["history"]
        assert [e["note"] for e in history] == ["looking into it", "assigned to nl_contrib",
                                               "<script>alert(1)</script>"]
        assert all(e["actor"] == "nl_analyst" for e in history)
        assert nl.get(base).headers["content-type"].startswith("application/json")
    with live.engine.connect() as conn:
        feedback = conn.execute(select(alert_feedback)).mappings().all()
        actions = [r.action for r in conn.execute(select(audit_log.c.action, audit_log.c.outcome))
                   if r.outcome == "ok"]
    assert [(f["label"], f["actor"]) for f in feedback] == [("relevant", "nl_analyst")], \
        "the relevance model's training rows, as `biotracker feedback` writes them"
    assert feedback[0]["alert_id"].startswith(alert_id), "on the organisation's own copy of the alert"
    for action in ("alert_status", "alert_assign", "alert_note", "feedback"):
        assert action in actions

    # a read-only token may read the alert but not change it; a contributor does not triage
    with live.client("nl_analyst", read_only=True) as reader:
        assert reader.get(base).status_code == 200
        assert reader.post(f"{base}/status", json={"status": "closed"}).status_code == 403
    with live.client("nl_contrib") as contributor:
        assert contributor.post(f"{base}/notes", json={"note": "hi"}).status_code == 403
    # another organisation: 404 for every action, as for an alert that does not exist
    with live.client("fr_analyst") as fr:
        for path, body in ((f"{base}/status", {"status": "closed"}), (f"{base}/assignee", {"assignee": None}),
                           (f"{base}/notes", {"note": "x"}), (f"{base}/feedback", {"label": "not-relevant"})):
            assert fr.post(path, json=body).status_code == 404
            assert fr.post(path.replace(alert_id, "alert-" + "0" * 20), json=body).status_code == 404
    # a session must send its CSRF token with every action
    with live.client() as browser:
        session = login(browser, "nl_analyst")
        cookie, csrf = session_cookie(session), session.json()["csrf_token"]
        for sent in ({}, {"X-CSRF-Token": "wrong"}):
            refused = browser.post(f"{base}/notes", json={"note": "x"}, headers={"Cookie": cookie, **sent})
            assert refused.status_code == 403
        accepted = browser.post(f"{base}/notes", json={"note": "by session"},
                                headers={"Cookie": cookie, "X-CSRF-Token": csrf})
        assert accepted.status_code == 200, accepted.text
    with live.client("nl_analyst") as nl:
        assert nl.get(base).json()["history"][-1]["note"] == "by session"
        assert nl.get(base).json()["status"] == "triaged", "refused actions changed nothing"


def test_notes_on_an_alert_many_organisations_read_stay_with_the_writers_organisation(
        start_server, database_url, tmp_path):
    live = start_server(server_settings(tmp_path, database_url))
    with live.engine.begin() as conn:  # a CLEAR feed report: everyone's alert
        conn.execute(insert(reports).values(
            report_id="who_don:1", source="who_don", source_id="1", title="Anthrax outbreak in cattle",
            summary="", text="Anthrax in cattle near Utrecht.", language="en", tlp="CLEAR", evidence={},
            published_at=dt.datetime(2026, 11, 25, tzinfo=dt.UTC), disease="anthrax", country_iso3="NLD"))
    derive_every_scope(live)
    [alert] = walk(live, "nl_analyst")
    assert walk(live, "fr_analyst") == [alert], "the same copy for every member organisation"
    base = f"/api/v1/alerts/{alert['alert_id']}"
    with live.client("nl_analyst") as nl:
        assert nl.post(f"{base}/notes", json={"note": "our informant says more"}).status_code == 200
        assert nl.post(f"{base}/assignee", json={"assignee": "nl_analyst"}).status_code == 200
        assert [e["note"] for e in nl.get(base).json()["history"]][-1] == "assigned to nl_analyst"
    with live.client("fr_analyst") as fr:
        seen = fr.get(base).json()
    assert seen["history"] == [] and seen["assignee"] is None
