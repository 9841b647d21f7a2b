"""Alert lifecycle: new → triaged → escalated / dismissed → closed, with who and when.

Every change is an ``alert_events`` row; the alert keeps its current status, who set it and when.
Re-deriving alerts never resets a status. Analyst relevance labels (``alert_feedback``) feed the
relevance model.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import Engine, select, update

from biotracker.db.tables import alert_events, alert_feedback, alerts
from biotracker.db.upsert import upsert
from biotracker.errors import BiotrackerError
from biotracker.schema import AlertStatus, Tlp

S = AlertStatus
TRANSITIONS: dict[AlertStatus, set[AlertStatus]] = {
    S.NEW: {S.TRIAGED, S.DISMISSED, S.CLOSED},
    S.TRIAGED: {S.ESCALATED, S.DISMISSED, S.CLOSED},
    S.ESCALATED: {S.CLOSED},
    S.DISMISSED: {S.CLOSED, S.TRIAGED},
    S.CLOSED: {S.TRIAGED},
}
LABELS = ("relevant", "not-relevant")


class AlertNotFound(BiotrackerError, LookupError):
    """No alert has this id."""


class TransitionError(BiotrackerError, ValueError):
    """The requested status change is not allowed from the alert's current status."""


def _event_id(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:32]


def set_status(
    engine: Engine, alert_id: str, status: AlertStatus, actor: str, at: dt.datetime, note: str = ""
) -> AlertStatus:
    """Move ``alert_id`` to ``status``; returns the previous status. Raises on a disallowed move."""
    with engine.begin() as conn:
        row = conn.execute(select(alerts.c.status).where(alerts.c.alert_id == alert_id)).first()
        if row is None:
            raise AlertNotFound(f"no alert {alert_id!r}; list alerts with `biotracker alerts list`")
        current = AlertStatus(row.status)
        if status not in TRANSITIONS[current]:
            allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current]))
            raise TransitionError(f"alert {alert_id} is {current.value}; it can move to: {allowed}")
        conn.execute(
            update(alerts)
            .where(alerts.c.alert_id == alert_id)
            .values(status=status.value, status_by=actor, status_at=at)
        )
        upsert(
            conn,
            alert_events,
            [
                {
                    "event_id": _event_id(alert_id, at.isoformat(), actor, status.value),
                    "alert_id": alert_id,
                    "at": at,
                    "actor": actor,
                    "from_status": current.value,
                    "to_status": status.value,
                    "note": note,
                }
            ],
        )
    return current


def history(engine: Engine, alert_id: str) -> list[dict]:
    with engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(
                select(alert_events).where(alert_events.c.alert_id == alert_id).order_by(alert_events.c.at)
            ).mappings()
        ]


def record_feedback(
    engine: Engine, alert_id: str, label: str, actor: str, at: dt.datetime, note: str = ""
) -> str:
    """Store an analyst's relevance label; the latest label per (alert, actor) is the one that counts."""
    if label not in LABELS:
        raise ValueError(f"label must be one of {LABELS}, got {label!r}")
    with engine.begin() as conn:
        if conn.execute(select(alerts.c.alert_id).where(alerts.c.alert_id == alert_id)).first() is None:
            raise AlertNotFound(f"no alert {alert_id!r}; list alerts with `biotracker alerts list`")
        feedback_id = _event_id(alert_id, actor)
        upsert(
            conn,
            alert_feedback,
            [
                {
                    "feedback_id": feedback_id,
                    "alert_id": alert_id,
                    "label": label,
                    "note": note,
                    "actor": actor,
                    "at": at,
                }
            ],
        )
    return feedback_id


#: How an assignment reads in an alert's history (``alert_events.note``); the latest one counts.
ASSIGNED = "assigned to "
UNASSIGNED = "unassigned"


def add_note(engine: Engine, alert_id: str, actor: str, at: dt.datetime, note: str) -> None:
    """Add a note to the alert's history without changing its status."""
    with engine.begin() as conn:
        row = conn.execute(select(alerts.c.status).where(alerts.c.alert_id == alert_id)).first()
        if row is None:
            raise AlertNotFound(f"no alert {alert_id!r}; list alerts with `biotracker alerts list`")
        event = {"alert_id": alert_id, "at": at, "actor": actor, "note": note}
        event |= {"from_status": row.status, "to_status": row.status}
        upsert(conn, alert_events, [event | {"event_id": _event_id(alert_id, at.isoformat(), actor, note)}])


def assign(engine: Engine, alert_id: str, assignee: str | None, actor: str, at: dt.datetime) -> None:
    """Make ``assignee`` (None: nobody) responsible for the alert; recorded in its history."""
    add_note(engine, alert_id, actor, at, f"{ASSIGNED}{assignee}" if assignee else UNASSIGNED)


SHARED = "shared at TLP:"


def share(engine: Engine, alert_id: str, orgs: list[str], marking: Tlp, actor: str, at: dt.datetime) -> None:
    """Record that ``actor``'s organisation shared the alert with ``orgs`` at ``marking`` (an entry in
    its history, like an assignment). The policy check (never lower) is the caller's: see
    ``server/routes/alerts.py: share_alert``."""
    add_note(engine, alert_id, actor, at, f"{SHARED}{marking.value} with {', '.join(sorted(orgs))}")


def shares(events: list[dict]) -> list[dict]:
    """The shares in an alert's :func:`history`: who, when, with which organisations, at which marking."""
    found = []
    for event in events:
        note = event["note"] or ""
        if note.startswith(SHARED):
            marking, _, orgs = note[len(SHARED) :].partition(" with ")
            found.append(
                {"at": event["at"], "actor": event["actor"], "tlp": marking, "orgs": orgs.split(", ")}
            )
    return found


def assignee(events: list[dict]) -> str | None:
    """The current assignee from an alert's :func:`history` (oldest first)."""
    for event in reversed(events):
        note = event["note"] or ""
        if note == UNASSIGNED:
            return None
        if note.startswith(ASSIGNED):
            return note[len(ASSIGNED) :]
    return None
