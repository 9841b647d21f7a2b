"""Each DAG runs for real with dag.test() on a SQLite metadata DB over the recorded feeds: the chain of
DAG runs produces the same tables as the demo, each stage is its own task, the ingest run announces
itself once, and a fatal fetch error (a broken recording answers 404) fails only its own feed, at once."""

from __future__ import annotations

import importlib
import pathlib
import re
import shutil
import sys

import pytest

from biotracker.config import BUNDLED_RECORDINGS, load_settings
from biotracker.db.engine import make_engine
from biotracker.ingest.registry import list_connectors

DAGS = pathlib.Path(__file__).resolve().parents[2] / "dags"
pytestmark = pytest.mark.airflow
EVERYTHING = {"start": "2000-01-01", "end": "2030-01-01"}


@pytest.fixture(scope="module", autouse=True)
def airflow_metadata_db():
    from airflow.utils import db

    db.initdb()


def _dag(name: str):
    if str(DAGS) not in sys.path:
        sys.path.insert(0, str(DAGS))
    return importlib.import_module(name).dag_object


def _test(name: str, conf: dict | None = None):
    dag = _dag(name)
    for task in dag.tasks:  # a failure should fail the test now, not wait out production retry delays
        task.retries = 0
    return dag.test(run_conf=conf or {})


def _run(name: str, conf: dict | None = None):
    run = _test(name, conf)
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "success", f"{name} ended {run.state}: {states}"
    return run


def _xcom(run, task_id: str):
    [ti] = [ti for ti in run.get_task_instances() if ti.task_id == task_id]
    return ti.xcom_pull(task_ids=task_id)


def test_the_dag_chain_produces_the_same_tables_as_the_demo(tmp_path, monkeypatch, demo_store):
    from tests.test_pipeline import snapshot

    demo_settings, demo = demo_store
    day = demo.digest.day.isoformat()

    monkeypatch.setenv("BIOTRACKER_HOME", str(tmp_path / "dags"))
    monkeypatch.setenv("BIOTRACKER_REPLAY_DIR", str(BUNDLED_RECORDINGS))
    ingest = _run("ingest_feeds", EVERYTHING)
    fetched = [ti for ti in ingest.get_task_instances() if ti.task_id == "fetch_to_raw"]
    assert sorted(ti.rendered_map_index for ti in fetched) == list_connectors(), "one labelled task per connector"
    assert _xcom(ingest, "raw_landed") == {"fetch_start": "2000-01-01T00:00:00+00:00",
                                           "fetch_end": "2030-01-01T00:00:00+00:00"}

    normalised = _run("normalise_reports", EVERYTHING)
    windows = _xcom(normalised, "plan_windows")["windows"]
    assert windows["day"] == day, "the digest day comes from the recordings, not from the clock"

    scored = _run("score_signals", {"windows": windows})
    assert [t.task_id for t in _dag("score_signals").topological_sort()] == [
        "windows", "build_incidents", "score_window", "assess_incidents", "derive_alerts", "rank_alerts"]
    assert _xcom(scored, "derive_alerts")["alerts"]["alerts"] == demo.alerts.alerts
    _run("publish_digest", {"day": day, "lookback_days": 28})

    dag_settings = load_settings()
    assert snapshot(make_engine(dag_settings)) == snapshot(make_engine(demo_settings))
    alert_ids = re.compile(r'id="(alert-[0-9a-f]+)"')
    dag_digest = (dag_settings.out_dir / f"digest-{day}.html").read_text()
    assert alert_ids.findall(dag_digest) == alert_ids.findall(demo.digest.html.read_text()) != []


def test_a_broken_recording_fails_only_its_feed_at_once_and_the_run_is_still_announced(tmp_path, monkeypatch):
    recordings = tmp_path / "recordings"
    shutil.copytree(BUNDLED_RECORDINGS, recordings)
    for body in (recordings / "ecdc").glob("*"):
        if body.name != "cassette.yaml":
            body.unlink()  # the cassette names files that are gone: a broken recording
    monkeypatch.setenv("BIOTRACKER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BIOTRACKER_REPLAY_DIR", str(recordings))
    dag = _dag("ingest_feeds")
    run = dag.test(run_conf=EVERYTHING)  # production retries stay on: a fatal error must not use them
    fetched = {ti.rendered_map_index: ti for ti in run.get_task_instances() if ti.task_id == "fetch_to_raw"}
    assert fetched["ecdc"].state == "failed" and fetched["ecdc"].try_number == 1, "no retry for a fatal error"
    assert {name for name, ti in fetched.items() if ti.state != "success"} == {"ecdc"}
    landed = [ti for ti in run.get_task_instances() if ti.task_id == "raw_landed"]
    assert [ti.state for ti in landed] == ["success"], "the run still announces what landed"
