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
