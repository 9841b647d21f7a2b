"""Each DAG runs for real with dag.test() on a SQLite metadata DB over the recorded feeds, and the
chain of DAG runs produces the same tables as the CLI/demo path."""

from __future__ import annotations

import datetime as dt
import importlib
import re
import pathlib
import sys

import pytest

from biotracker.config import BUNDLED_RECORDINGS, load_settings
from biotracker.db.engine import make_engine
from biotracker.ingest.registry import list_connectors
from biotracker.pipeline import DEMO_SCORED_WEEKS

DAGS = pathlib.Path(__file__).resolve().parents[2] / "dags"
pytestmark = pytest.mark.airflow


@pytest.fixture(scope="module", autouse=True)
def airflow_metadata_db():
    from airflow.utils import db

    db.initdb()


def _dag(name: str):
    if str(DAGS) not in sys.path:
        sys.path.insert(0, str(DAGS))
    return importlib.import_module(name).dag_object


def _run(name: str, conf: dict | None = None):
    dag = _dag(name)
    for task in dag.tasks:  # a failure should fail the test now, not wait out production retry delays
        task.retries = 0
    run = dag.test(run_conf=conf or {})
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "success", f"{name} ended {run.state}: {states}"
    return run


def test_the_dag_chain_produces_the_same_tables_as_the_demo(tmp_path, monkeypatch, demo_store):
    from tests.test_pipeline import snapshot

    demo_settings, demo = demo_store
    day = demo.digest.day.isoformat()

    monkeypatch.setenv("BIOTRACKER_HOME", str(tmp_path / "dags"))
    monkeypatch.setenv("BIOTRACKER_REPLAY_DIR", str(BUNDLED_RECORDINGS))
    ingest = _run("ingest_feeds", {"start": "2000-01-01", "end": "2030-01-01"})
    fetched = [ti for ti in ingest.get_task_instances() if ti.task_id == "fetch_to_raw"]
    assert sorted(ti.rendered_map_index for ti in fetched) == list_connectors(), "one labelled task per connector"
    _run("normalise_reports")
    scored_from = (demo.digest.day - dt.timedelta(weeks=DEMO_SCORED_WEEKS)).isoformat()
    _run("score_signals", {"start": scored_from, "end": day})
    _run("publish_digest", {"day": day, "lookback_days": 28})

    dag_settings = load_settings()
    assert snapshot(make_engine(dag_settings)) == snapshot(make_engine(demo_settings))
    alert_ids = re.compile(r'id="(alert-[0-9a-f]+)"')
    dag_digest = (dag_settings.out_dir / f"digest-{day}.html").read_text()
    assert alert_ids.findall(dag_digest) == alert_ids.findall(demo.digest.html.read_text()) != []
