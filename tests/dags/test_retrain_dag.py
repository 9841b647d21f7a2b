"""The retrain_models DAG runs for real with dag.test(): on a store with too few labels it succeeds
and leaves the rule score ranking; once analysts have labelled alerts it writes a skops model and
its card into the models folder and the alerts are ranked by that model."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import pathlib
import sqlite3
import sys

import pytest
from sqlalchemy import select

from biotracker.alerts.lifecycle import record_feedback
from biotracker.config import load_settings
from biotracker.db.engine import open_store
from biotracker.db.tables import alerts

DAGS = pathlib.Path(__file__).resolve().parents[2] / "dags"
pytestmark = pytest.mark.airflow


@pytest.fixture(scope="module", autouse=True)
def airflow_metadata_db():
    from airflow.utils import db

    db.initdb()


def _run_retrain():
    if str(DAGS) not in sys.path:
        sys.path.insert(0, str(DAGS))
    run = importlib.import_module("retrain_models").dag_object.test()
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "success", f"retrain_models ended {run.state}: {states}"
    return run


def _sources(engine) -> set[str]:
    with engine.connect() as conn:
        return {(r.features or {}).get("relevance_source") for r in conn.execute(select(alerts.c.features))}


def test_retrain_models_trains_saves_and_ranks(tmp_path, monkeypatch, demo_store):
    home, models = tmp_path / "home", tmp_path / "models"
    home.mkdir()
    with sqlite3.connect(demo_store[0].home / "biotracker.db") as src, sqlite3.connect(home / "biotracker.db") as dst:
        src.backup(dst)  # the demo's store: real alerts from the recorded feeds
    monkeypatch.setenv("BIOTRACKER_HOME", str(home))
    monkeypatch.setenv("BIOTRACKER_MODELS_DIR", str(models))
    engine = open_store(load_settings())

    _run_retrain()  # no labels yet: nothing trained, the rule score ranks
    assert not list(models.glob("*.skops")) and _sources(engine) == {"rules"}

    with engine.connect() as conn:
        rows = conn.execute(select(alerts.c.alert_id, alerts.c.features).order_by(alerts.c.alert_id)).all()
    at = dt.datetime(2025, 1, 6, tzinfo=dt.timezone.utc)
    for i, row in enumerate(rows[:60]):
        f = row.features
        relevant = f["select_agent"] and f["series_key"].split("|")[2] in ("*", "human") or f["law_enforcement"]
        record_feedback(engine, row.alert_id, "relevant" if relevant else "not-relevant", "analyst",
                        at + dt.timedelta(minutes=i))

    _run_retrain()
    [artefact] = models.glob("relevance-*.skops")
    card = json.loads(artefact.with_name(artefact.name.removesuffix(".skops") + ".card.json").read_text())
    assert card["labels"]["total"] == 60 and card["artefact"] == artefact.name
    assert artefact.with_name(artefact.name.removesuffix(".skops") + ".card.md").is_file()
    assert _sources(engine) == {f"model:{card['model_id']}"}
