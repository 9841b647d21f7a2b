"""A real Airflow 3 deployment for tests: api-server, scheduler and dag-processor (plus Celery workers
when asked) as separate processes on a PostgreSQL metadata database, driven through the REST API.

Each component runs in its own process group, started and stopped by this module only.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PASSWORD = "biotracker-test-admin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def airflow_env(home: Path, metadata_url: str, api_port: int, extra: Mapping[str, str]) -> dict[str, str]:
    """The environment of every component: nothing inherited from the test process's Airflow set-up."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "BIOTRACKER_"))}
    (home / "passwords.json").write_text(json.dumps({"admin": PASSWORD}))
    env.update(
        AIRFLOW_HOME=str(home),
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM="3",
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="True",  # the test unpauses the DAGs it runs
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{api_port}/execution/",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(home / "passwords.json"),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=metadata_url,
        AIRFLOW__API__PORT=str(api_port),
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__WORKERS="1",
        AIRFLOW__API_AUTH__JWT_SECRET="test-only-jwt-secret-0123456789abcdef",
        AIRFLOW__API__SECRET_KEY="test-only-secret-key",
        # Only the REST trigger starts ingest_feeds: no cron run on unpausing.
        BIOTRACKER_INGEST_SCHEDULE="none",
        AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK="True",
        AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT=str(free_port()),
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
        # Parse each DAG file once: the files do not change during a test, and re-parsing every 30 s
        # (the default) takes CPU from the tasks on a 2-core CI machine.
        AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL="3600",
        AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
        # Not the default 8793: other Airflow instances on this machine may hold it.
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
    )
    env.update(extra)
    return env


@dataclass
class AirflowStack:
    home: Path
    env: dict[str, str]
    api: str
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    _token: str | None = None

    def start(self, name: str, *args: str, env: Mapping[str, str] | None = None) -> None:
        log = (self.home / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(
            [str(BIN / "airflow"), *args],
            env={**self.env, **(env or {})},
            cwd=self.home,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped with everything it forked
        )

    def stop(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.processes.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # workers that ignored SIGTERM
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)

    def logs(self, tail: int = 3000) -> str:
        return "\n".join(
            f"--- {p.name} ---\n{p.read_text(errors='replace')[-tail:]}" for p in sorted(self.home.glob("*.log"))
        )

    def _check_alive(self) -> None:
        dead = {n: p.returncode for n, p in self.processes.items() if p.poll() is not None}
        if dead:
            raise AssertionError(f"Airflow components exited: {dead}\n{self.logs()}")

    def request(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        if self._token is None:
            answer = httpx.post(f"{self.api}/auth/token", json={"username": "admin", "password": PASSWORD})
            answer.raise_for_status()
            self._token = answer.json()["access_token"]
        headers = {"Authorization": f"Bearer {self._token}"}
        return httpx.request(method, f"{self.api}{path}", headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]

    def wait_until_ready(self, dag_ids: set[str], timeout_s: float = 300) -> None:
        """Wait for a healthy scheduler and dag-processor and the parsed ``dag_ids``, then unpause them."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                health = httpx.get(f"{self.api}/api/v2/monitor/health", timeout=5).json()
                parsed = {d["dag_id"] for d in self.request("GET", "/api/v2/dags").json().get("dags", [])}
            except (httpx.HTTPError, ValueError):
                time.sleep(1)
                continue
            healthy = all(health.get(c, {}).get("status") == "healthy" for c in ("scheduler", "dag_processor"))
            if healthy and dag_ids <= parsed:
                for dag_id in sorted(dag_ids):
                    answer = self.request("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
                    assert answer.status_code == 200, answer.text
                return
            time.sleep(1)
        raise AssertionError(f"Airflow did not get ready in {timeout_s:.0f} s\n{self.logs()}")

    def trigger(self, dag_id: str, conf: dict) -> str:
        answer = self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})
        assert answer.status_code == 200, answer.text
        return answer.json()["dag_run_id"]

    def runs(self, dag_id: str) -> list[dict]:
        answer = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"order_by": "run_after"})
        assert answer.status_code == 200, answer.text
        return answer.json()["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        answer = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        assert answer.status_code == 200, answer.text
        return answer.json()["task_instances"]

    def wait_for_runs(self, dag_id: str, count: int, timeout_s: float = 900) -> list[dict]:
        """Wait until ``dag_id`` has ``count`` finished runs; a failed run fails at once, with the logs."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._check_alive()
            runs = self.runs(dag_id)
            failed = [r for r in runs if r["state"] == "failed"]
            if failed:
                tis = self.task_instances(dag_id, failed[0]["dag_run_id"])
                raise AssertionError(f"{dag_id} failed: {[(t['task_id'], t['state']) for t in tis]}\n{self.logs()}")
            done = [r for r in runs if r["state"] == "success"]
            if len(done) >= count:
                return done
            time.sleep(1)
        raise AssertionError(f"{dag_id} did not finish {count} run(s) in {timeout_s:.0f} s\n{self.logs()}")


@contextmanager
def airflow_stack(
    home: Path,
    metadata_url: str,
    extra_env: Mapping[str, str],
    components: Mapping[str, tuple[list[str], Mapping[str, str]]] | None = None,
) -> Iterator[AirflowStack]:
    """Migrate the metadata DB, start api-server, scheduler, dag-processor and ``components``
    (name -> (airflow arguments, extra environment)), yield the stack, stop it."""
    port = free_port()
    env = airflow_env(home, metadata_url, port, extra_env)
    migrated = subprocess.run(
        [str(BIN / "airflow"), "db", "migrate"], env=env, cwd=home, capture_output=True, text=True, timeout=600
    )
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    stack = AirflowStack(home=home, env=env, api=f"http://127.0.0.1:{port}")
    try:
        stack.start("api-server", "api-server")
        stack.start("scheduler", "scheduler")
        stack.start("dag-processor", "dag-processor")
        for name, (args, env) in (components or {}).items():
            stack.start(name, *args, env=env)
        yield stack
    finally:
        stack.stop()
