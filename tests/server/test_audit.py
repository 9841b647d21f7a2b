"""The audit log: what the server records, that the database refuses to alter it (SQLite and
PostgreSQL), and ``biotracker audit`` printing it."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from biotracker.db.tables import audit_log
from biotracker.server.audit import Action, AuditEntry, Outcome, append, read_audit
from tests.server.test_api import REPORT
from tests.server.test_sessions import login


def test_audit_rows_cannot_be_updated_deleted_or_truncated(live):
    with live.engine.begin() as conn:
        append(conn, AuditEntry(dt.datetime(2026, 12, 1, tzinfo=dt.UTC), "alice", Action.LOGIN, Outcome.OK))
    attempts = [update(audit_log).values(actor="mallory"), delete(audit_log)]
    if live.engine.dialect.name == "postgresql":
        attempts.append(text("TRUNCATE audit_log"))
    for statement in attempts:
        with pytest.raises(DBAPIError, match="append-only"):
            with live.engine.begin() as conn:
                conn.execute(statement)
    with live.engine.connect() as conn:
        assert [e.actor for e in read_audit(conn)] == ["alice"]


def test_logins_token_use_restricted_reads_and_writes_are_audited(live):
    report_id = live.client("nl_contrib").post("/api/v1/reports", json=REPORT).json()["report_ids"][0]
    assert live.client("nl_analyst").get(f"/api/v1/reports/{report_id}").status_code == 200
    assert live.client("ip_admin").get(f"/api/v1/reports/{report_id}").status_code == 404
    with live.client() as client:
        assert login(client, "fr_analyst").status_code == 200
        assert login(client, "fr_analyst", "not the password").status_code == 401
    with live.engine.connect() as conn:
        rows = conn.execute(select(audit_log).order_by(audit_log.c.audit_id)).mappings().all()
    seen = {(r["actor"], r["action"], r["outcome"], tuple(r["record_ids"])) for r in rows}
    assert ("nl_contrib", "contribute", "ok", (report_id,)) in seen
    assert ("nl_analyst", "read", "ok", (report_id,)) in seen  # AMBER read
    assert ("ip_admin", "read", "not_found", (report_id,)) in seen  # the refused attempt, for investigators
    assert ("fr_analyst", "login", "ok", ()) in seen
    assert ("fr_analyst", "login_failed", "denied", ()) in seen
    assert {("nl_contrib", "token_use"), ("nl_analyst", "token_use")} <= {(a, b) for a, b, _, _ in seen}
    assert all(r["remote"] == "127.0.0.1" for r in rows)
