"""The append-only audit log: who did what, when, to which records, with what outcome.

Rows are only ever inserted; the database refuses UPDATE and DELETE on ``audit_log`` (triggers
from migration 0009), so an application bug cannot rewrite history either.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

from sqlalchemy import Connection, insert, select

from biotracker.db.tables import audit_log

ANONYMOUS = "-"


class Action(str, Enum):
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    TOKEN_USE = "token_use"
    WRITE_REFUSED = "write_refused"
    READ = "read"
    CONTRIBUTE = "contribute"
    CORRECT = "correct"
    WITHDRAW = "withdraw"
    ALERT_STATUS = "alert_status"
    ALERT_ASSIGN = "alert_assign"
    ALERT_NOTE = "alert_note"
    ALERT_SHARE = "alert_share"
    FEEDBACK = "feedback"
    INCIDENT_SPLIT = "incident_split"
    INCIDENT_JOIN = "incident_join"
    INCIDENT_MERGE = "incident_merge"
    INCIDENT_UNMERGE = "incident_unmerge"
    WORKSHEET = "worksheet"
    ADMIN = "admin"


class Outcome(str, Enum):
    OK = "ok"
    DENIED = "denied"
    NOT_FOUND = "not_found"
    INVALID = "invalid"
    LOCKED = "locked"


@dataclass(frozen=True)
class AuditEntry:
    at: dt.datetime
    actor: str
    action: Action
    outcome: Outcome
    org: str | None = None
    record_ids: Sequence[str] = field(default_factory=tuple)
    detail: str = ""
    remote: str | None = None


def append(conn: Connection, entry: AuditEntry) -> None:
    conn.execute(
        insert(audit_log).values(
            at=entry.at,
            actor=entry.actor[:100],
            org=entry.org,
            action=entry.action.value,
            record_ids=list(entry.record_ids),
            outcome=entry.outcome.value,
            detail=entry.detail[:2000],
            remote=(entry.remote or "")[:64] or None,
        )
    )


def read_audit(
    conn: Connection, *, user: str | None = None, since: dt.datetime | None = None, limit: int | None = None
) -> list[AuditEntry]:
    """Audit rows oldest first, optionally of one user and from ``since`` on."""
    query = select(audit_log).order_by(audit_log.c.audit_id)
    if user:
        query = query.where(audit_log.c.actor == user)
    if since:
        query = query.where(audit_log.c.at >= since)
    if limit:
        query = query.limit(limit)
    return [
        AuditEntry(
            at=r["at"],
            actor=r["actor"],
            action=Action(r["action"]),
            outcome=Outcome(r["outcome"]),
            org=r["org"],
            record_ids=tuple(r["record_ids"] or ()),
            detail=r["detail"],
            remote=r["remote"],
        )
        for r in conn.execute(query).mappings()
    ]
