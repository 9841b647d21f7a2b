"""The chain on Airflow's CeleryExecutor: a local Redis broker, two Celery workers, files in S3.

Specification: triggered through the REST API, ``ingest_feeds`` runs on to ``publish_digest`` with its
tasks spread over both workers. The workers share nothing but the databases and the object store
(moto's S3 API server), so the raw archive, the digest and the sent mail are in the bucket; the tables
equal the demo's and each subscriber with an address gets one email.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine

from biotracker import storage
from biotracker.config import load_settings
from biotracker.outputs.audience import load_subscribers
from tests import pg_cluster
from tests.dags.airflow_stack import airflow_stack, free_port
from tests.dags.test_real_scheduler import DAG_IDS, EVERYTHING, SUBSCRIBERS, Mailbox, chain_env
from tests.s3_server import new_bucket, s3_server
from tests.test_pipeline import snapshot

# A real deployment on a shared machine: allow more than the suite's default 600 s per test.
pytestmark = [pytest.mark.airflow, pytest.mark.postgres, pytest.mark.timeout(1800)]


@contextmanager
def redis_server(folder: Path) -> Iterator[int]:
    """Debian's redis-server on 127.0.0.1 (no persistence); yields its port."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is missing: run `make test` (scripts/ensure-system-deps.sh installs it)")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=(folder / "redis.log").open("wb"), stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("redis-server did not answer PING in 10 s")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def worker(name: str) -> tuple[list[str], dict[str, str]]:
    args = ["celery", "worker", "--concurrency", "1", "--celery-hostname", f"{name}@%h",
            "--without-mingle", "--without-gossip"]
    return args, {"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())}


def test_two_celery_workers_run_the_chain_with_files_in_s3(tmp_path, postgres_cluster, postgres_demo_template):
    metadata_db = f"airflow_{uuid.uuid4().hex[:8]}"
    metadata_url = pg_cluster.create_database(postgres_cluster, metadata_db)
    biotracker_url = pg_cluster.create_database(postgres_cluster, f"bt_{uuid.uuid4().hex[:12]}")
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    home = tmp_path / "airflow"
    home.mkdir()
    try:
        with s3_server(tmp_path) as endpoint, redis_server(tmp_path) as redis_port:
            url, options = new_bucket(endpoint)
            env = chain_env(biotracker_url, tmp_path / "biotracker", smtp.port) | {
                "BIOTRACKER_STORAGE_URL": url,
                "BIOTRACKER_STORAGE_OPTIONS": json.dumps(options),
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + postgres_cluster.url(metadata_db, "postgresql"),
            }
            settings = load_settings(env)
            from biotracker.db.engine import make_engine, migrate

            migrate(make_engine(settings))  # the init step, once
            workers = {"worker-1": worker("w1"), "worker-2": worker("w2")}
            began = time.monotonic()
            with airflow_stack(home, metadata_url, env, workers) as stack:
                stack.wait_until_ready(DAG_IDS)
                stack.trigger("ingest_feeds", EVERYTHING)
                stack.wait_for_runs("publish_digest", 1)
                tables = snapshot(make_engine(settings))
                print(f"\ncelery: ready and chain done in {time.monotonic() - began:.0f} s")
                logs = {name: (home / f"{name}.log").read_text(errors="replace") for name in workers}
            root = storage.location(url, options)
            digests = sorted(p.name for p in (root / "out").glob("digest-*.html"))
            sent = sorted(p.name for p in (root / "out" / "mail" / "sent").glob("*.eml"))
            raw = list((root / "raw").rglob("*"))
    finally:
        smtp.stop()

    ran = {name: len(re.findall(r"execute_workload\[[^\]]+\] received", text)) for name, text in logs.items()}
    assert all(n > 0 for n in ran.values()), f"tasks per worker: {ran}"
    demo = snapshot(create_engine(postgres_cluster.url(postgres_demo_template[0])))
    assert [name for name in demo if tables[name] != demo[name]] == [], "tables differ from the demo's"
    assert digests and raw, "the digest and the raw archive are in the bucket"
    addressed = sorted(s.email for s in load_subscribers(SUBSCRIBERS).subscribers if s.email)
    assert sorted(r for rcpts, _ in mailbox.messages for r in rcpts) == addressed
    assert len(sent) == len(addressed), f"sent mail kept in the bucket: {sent}"
    assert not (tmp_path / "biotracker" / "raw").exists() and not (tmp_path / "biotracker" / "out").exists()
