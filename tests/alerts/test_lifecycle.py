"""Alert lifecycle and analyst feedback, on SQLite and PostgreSQL; re-deriving keeps the status."""

import datetime as dt

import pytest
from sqlalchemy import func, select

from biotracker.alerts.derive import derive_alerts
from biotracker.alerts.lifecycle import AlertNotFound, TransitionError, history, record_feedback, set_status
from biotracker.db.engine import open_store
from biotracker.db.tables import alert_feedback, alerts
from biotracker.incidents.scopes import scope_named
from biotracker.outputs.audience import INTERNAL, registered_source_kinds
from biotracker.outputs.records import reading_scope
from biotracker.schema import AlertStatus, Window

T0 = dt.datetime(2026, 1, 5, 9, tzinfo=dt.timezone.utc)


@pytest.fixture
def store(demo_copy):
    """A private copy of the demo's store (SQLite and PostgreSQL) and one of its alerts."""
    engine = open_store(demo_copy)
    with engine.connect() as conn:
        scope = reading_scope(engine, INTERNAL, registered_source_kinds()).key  # the analysts' view
        first = conn.execute(select(alerts.c.alert_id).where(alerts.c.scope == scope)
                             .order_by(alerts.c.alert_id)).first()
    return engine, first.alert_id


def test_alert_moves_along_the_lifecycle_with_who_and_when(store):
    engine, alert_id = store
    assert set_status(engine, alert_id, AlertStatus.TRIAGED, "ana", T0, "looking") is AlertStatus.NEW
    set_status(engine, alert_id, AlertStatus.ESCALATED, "ben", T0 + dt.timedelta(hours=1))
    with pytest.raises(TransitionError, match="it can move to: closed"):
        set_status(engine, alert_id, AlertStatus.DISMISSED, "ana", T0 + dt.timedelta(hours=2))
    events = history(engine, alert_id)
    assert [(e["actor"], e["from_status"], e["to_status"]) for e in events] == [
        ("ana", "new", "triaged"), ("ben", "triaged", "escalated")]
    with engine.connect() as conn:
        row = conn.execute(select(alerts).where(alerts.c.alert_id == alert_id)).mappings().one()
    assert (row["status"], row["status_by"], row["status_at"]) == ("escalated", "ben", T0 + dt.timedelta(hours=1))


def test_rederiving_alerts_keeps_the_analysts_status(store):
    engine, alert_id = store
    set_status(engine, alert_id, AlertStatus.DISMISSED, "ana", T0)
    with engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(alerts)).scalar_one()
    with engine.connect() as conn:
        scope = scope_named(conn.execute(select(alerts.c.scope).where(alerts.c.alert_id == alert_id)).scalar_one())
    assert derive_alerts(engine, Window.parse("2022-10-24", "2024-10-21"), scope=scope).alerts > 0
    with engine.connect() as conn:
        assert conn.execute(select(alerts.c.status).where(alerts.c.alert_id == alert_id)).scalar_one() == "dismissed"
        assert conn.execute(select(func.count()).select_from(alerts)).scalar_one() == before


def test_feedback_keeps_the_latest_label_per_analyst(store):
    engine, alert_id = store
    record_feedback(engine, alert_id, "relevant", "ana", T0)
    record_feedback(engine, alert_id, "not-relevant", "ana", T0 + dt.timedelta(days=1), "seasonal")
    record_feedback(engine, alert_id, "relevant", "ben", T0)
    with engine.connect() as conn:
        labels = sorted(conn.execute(select(alert_feedback.c.actor, alert_feedback.c.label)).all())
    assert labels == [("ana", "not-relevant"), ("ben", "relevant")]
    with pytest.raises(AlertNotFound, match="biotracker alerts list"):
        record_feedback(engine, "alert-nope", "relevant", "ana", T0)
    with pytest.raises(ValueError, match="label must be one of"):
        record_feedback(engine, alert_id, "maybe", "ana", T0)
