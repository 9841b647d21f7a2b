"""A private SQLite copy of the demo store (real alerts from the recorded feeds), labelled by a
simple analyst rule, for the relevance-model tests."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest
from sqlalchemy import select

from biotracker.alerts.lifecycle import record_feedback
from biotracker.config import load_settings
from biotracker.db.engine import open_store
from biotracker.db.tables import alerts

T0 = dt.datetime(2025, 1, 6, 9, tzinfo=dt.timezone.utc)


def simple_label(features: dict) -> str:
    """Relevant: a select agent outside animal hosts, or any intent/lab cue or law-enforcement intake."""
    host = (features.get("series_key") or "||").split("|")[2]
    if features.get("intent_cues") or features.get("lab_cues") or features.get("law_enforcement"):
        return "relevant"
    return "relevant" if features.get("select_agent") and host in ("*", "human") else "not-relevant"


@pytest.fixture
def store(tmp_path, demo_store):
    """(settings, engine) of a fresh copy of the demo's database."""
    with sqlite3.connect(demo_store[0].home / "biotracker.db") as src, sqlite3.connect(tmp_path / "biotracker.db") as dst:
        src.backup(dst)
    settings = load_settings({}, home=str(tmp_path))
    return settings, open_store(settings)


def label(engine, n: int | None = None, actor: str = "analyst-a") -> dict[str, str]:
    """Label the first ``n`` alerts (by id) with ``simple_label``; returns {alert_id: label}."""
    with engine.connect() as conn:
        rows = conn.execute(select(alerts.c.alert_id, alerts.c.features).order_by(alerts.c.alert_id)).all()
    given = {}
    for i, row in enumerate(rows[:n]):
        given[row.alert_id] = simple_label(row.features or {})
        record_feedback(engine, row.alert_id, given[row.alert_id], actor, T0 + dt.timedelta(minutes=i))
    return given


@pytest.fixture
def labelled(store):
    settings, engine = store
    return settings, engine, label(engine)
