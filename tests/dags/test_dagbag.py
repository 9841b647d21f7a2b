"""DAG integrity: every DAG file parses quickly, is named after its file, is tagged and retries."""

from __future__ import annotations

import datetime as dt
import re
import pathlib

import pytest

DAGS = pathlib.Path(__file__).resolve().parents[2] / "dags"
EXPECTED = {"ingest_feeds", "normalise_reports", "score_signals", "publish_digest", "retrain_models"}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_every_dag_file_imports_without_error(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == EXPECTED


def test_dag_ids_are_file_stems_and_dags_are_tagged_documented_retrying_and_bounded(dagbag):
    for dag_id in dagbag.dag_ids:
        dag = dagbag.dags[dag_id]
        assert pathlib.Path(dag.fileloc).stem == dag_id
        assert "biotracker" in dag.tags and len(dag.tags) >= 2
        assert dag.doc_md and dag.doc_md.strip()
        for task in dag.tasks:
            assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"
            assert task.retry_exponential_backoff
            assert task.execution_timeout is not None, f"{dag_id}.{task.task_id} has no overall deadline"


def test_parse_time_is_small(dagbag):
    for stat in dagbag.dagbag_stats:
        assert stat.duration < dt.timedelta(seconds=2), f"{stat.file} took {stat.duration} to parse"


def test_dag_files_hold_no_heavy_imports():
    for path in DAGS.glob("*.py"):
        top = [line for line in path.read_text().splitlines() if line.startswith(("import ", "from "))]
        for line in top:
            assert not re.search(r"\b(pandas|sqlalchemy|httpx|sklearn)\b|\bbiotracker(\.|\s|$)", line), (
                f"{path.name}: top-level '{line}'; import biotracker inside the task so parsing stays fast"
            )
