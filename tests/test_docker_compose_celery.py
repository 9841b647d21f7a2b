"""The compose file's "celery" profile, checked without Docker (real Compose v2 binary, offline).

Specification: without the profile the stack is today's LocalExecutor one; with
``AIRFLOW_EXECUTOR=CeleryExecutor`` and ``--profile celery`` it adds a Redis broker and at least two
Celery workers, every Airflow service uses the CeleryExecutor with the broker at the ``redis``
service, and the worker command is one Airflow's own CLI accepts. Every Airflow service mounts a
subscribers file, so the digest email reaches Mailpit.
"""

from __future__ import annotations

import os
import subprocess
import sys

import yaml

from tests.test_docker_compose import COMPOSE_FILE, REPO, compose_binary


def resolved(profile: str | None = None, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_", "AIRFLOW_"))}
    args = [str(compose_binary()), "-f", str(COMPOSE_FILE), "--project-directory", str(REPO)]
    args += ["--profile", profile] if profile else []
    result = subprocess.run([*args, "config"], cwd=REPO, env={**clean, **env}, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["services"]


def airflow(services: dict) -> dict:
    return {n: s for n, s in services.items() if n.startswith("airflow-")}


def test_without_the_profile_the_stack_is_the_local_executor_one():
    services = resolved()
    assert "redis" not in services and "airflow-worker" not in services
    assert {s["environment"]["AIRFLOW__CORE__EXECUTOR"] for s in airflow(services).values()} == {"LocalExecutor"}


def test_the_celery_profile_adds_redis_and_two_workers_on_the_celery_executor(tmp_path):
    services = resolved("celery", AIRFLOW_EXECUTOR="CeleryExecutor")
    worker = services["airflow-worker"]
    assert worker["deploy"]["replicas"] >= 2
    assert services["redis"]["image"].startswith("redis:")
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
    for name, svc in airflow(services).items():
        env = svc["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:"), name
    checker = "import sys; from airflow.cli.cli_parser import get_parser; get_parser().parse_args(sys.argv[1:])"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env |= {"AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    parsed = subprocess.run([sys.executable, "-c", checker, *worker["command"]], env=env, capture_output=True,
                            text=True, timeout=300)
    assert parsed.returncode == 0, f"`airflow {' '.join(worker['command'])}` is not an Airflow command: {parsed.stderr}"


def test_every_airflow_service_mounts_the_subscribers_file_it_names():
    for name, svc in airflow(resolved("celery", AIRFLOW_EXECUTOR="CeleryExecutor")).items():
        target = svc["environment"]["BIOTRACKER_SUBSCRIBERS_FILE"]
        [mount] = [v for v in svc["volumes"] if v.get("target") == target]
        assert mount["type"] == "bind" and mount.get("read_only") and os.path.isfile(mount["source"]), name
