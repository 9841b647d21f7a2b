"""Test-wide set-up: Airflow on a throwaway SQLite metadata DB, a throwaway PostgreSQL cluster, and
Biotracker settings pointing at a temporary home. Airflow's environment must be set before anything
imports airflow, hence the top of this file."""

from __future__ import annotations

import os
import pathlib
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[1]
if "AIRFLOW_HOME" not in os.environ or not os.environ["AIRFLOW_HOME"].startswith(tempfile.gettempdir()):
    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="airflow-home-")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
os.environ.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
for key in [k for k in os.environ if k.startswith("BIOTRACKER_")]:
    os.environ.pop(key)

import sys  # noqa: E402
import uuid  # noqa: E402

# Airflow puts the DAGs folder on sys.path (shared DAG modules such as biotracker_assets.py); so do we.
sys.path.insert(0, str(REPO / "dags"))

import pytest  # noqa: E402

from tests import pg_cluster  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures"


@pytest.fixture(scope="session")
def postgres_cluster():
    """A real PostgreSQL server for the session; fails (never skips) when it cannot start."""
    try:
        cluster = pg_cluster.start_cluster()
    except pg_cluster.PostgresUnavailable as exc:
        pytest.fail(str(exc))
    yield cluster
    pg_cluster.stop_cluster(cluster)


@pytest.fixture
def postgres_url(postgres_cluster) -> str:
    """A fresh, empty database on the session's PostgreSQL server."""
    return pg_cluster.create_database(postgres_cluster, f"bt_{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> str:
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'biotracker.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory):
    """The demo run once on SQLite for tests that only read its results (settings, result)."""
    import datetime as dt

    from biotracker.config import load_settings
    from biotracker.pipeline import run_demo

    settings = load_settings({}, home=str(tmp_path_factory.mktemp("demo-home")))
    result = run_demo(settings, clock=lambda: dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    return settings, result


@pytest.fixture(scope="session")
def postgres_demo_template(postgres_cluster, tmp_path_factory):
    """The demo run once into a PostgreSQL database that tests clone (name, raw folder)."""
    import datetime as dt

    from biotracker.config import load_settings
    from biotracker.pipeline import run_demo

    url = pg_cluster.create_database(postgres_cluster, "bt_demo_template")
    settings = load_settings({}, home=str(tmp_path_factory.mktemp("pg-demo-home")), database_url=url)
    run_demo(settings, clock=lambda: dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    return "bt_demo_template", settings.raw_dir


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def demo_copy(request, tmp_path, demo_store):
    """Settings of a private copy of the demo's data, once on SQLite and once on PostgreSQL."""
    import shutil
    import sqlite3

    from biotracker.config import load_settings

    if request.param == "sqlite":
        with sqlite3.connect(demo_store[0].home / "biotracker.db") as src, \
                sqlite3.connect(tmp_path / "biotracker.db") as dst:
            src.backup(dst)  # the demo's database, write-ahead log included
        shutil.copytree(demo_store[0].raw_dir, tmp_path / "raw")
        return load_settings({}, home=str(tmp_path))
    template, raw = request.getfixturevalue("postgres_demo_template")
    cluster = request.getfixturevalue("postgres_cluster")
    url = pg_cluster.clone_database(cluster, template, f"bt_{uuid.uuid4().hex[:12]}")
    shutil.copytree(raw, tmp_path / "raw")
    return load_settings({}, home=str(tmp_path), database_url=url)


def pytest_collection_finish(session) -> None:
    """Start the slow single-process checks of the selected tests now (tests/early_checks.py)."""
    # Under pytest-xdist every worker collects every test; the worker that runs a check starts it then.
    if not session.config.option.collectonly and "PYTEST_XDIST_WORKER" not in os.environ:
        from tests import early_checks

        early_checks.start_selected([item.nodeid for item in session.items])
