"""Contributions arriving at once at a server of several worker processes on PostgreSQL all land:
normalisation runs in every worker at the same time without deadlocking (one lock order)."""

from __future__ import annotations

import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import func, insert, select

from biotracker.config import load_settings
from biotracker.db.engine import open_store
from biotracker.db.tables import reports
from biotracker.normalise.run import refresh_health_counts
from tests.server.conftest import free_port
from tests.server.test_cli import BIOTRACKER, run


def test_simultaneous_contributions_to_three_workers_all_land(postgres_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BIOTRACKER_")} | {
        "BIOTRACKER_HOME": str(tmp_path / "var"),
        "BIOTRACKER_DATABASE_URL": postgres_url,
        "BIOTRACKER_SERVER_SECRET_KEY": "concurrency-test",
    }
    engine = open_store(load_settings({}, home=str(tmp_path / "var"), database_url=postgres_url))
    with engine.begin() as conn:  # many sources in source_health, as in a real store
        for i in range(30):
            conn.execute(insert(reports).values(
                report_id=f"feed{i}:1", source=f"feed{i}", source_id="1", title="x", summary="", text="",
                language="en", tlp="CLEAR", evidence={}))
    refresh_health_counts(engine)
    assert run(env, "orgs", "add", "NCB-NL").returncode == 0
    assert run(env, "users", "add", "c", "--org", "NCB-NL", "--role", "contributor", "--password-stdin",
               stdin="long enough password\n").returncode == 0
    token = run(env, "tokens", "issue", "c", "--scope", "write").stdout.strip()
    port = free_port()
    server = subprocess.Popen([str(BIOTRACKER), "serve", "--port", str(port), "--workers", "3"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/api/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.3)

        def post(i: int) -> int:
            body = {"title": f"Anthrax in cattle {i}", "reported_at": "2026-11-28T10:00:00Z", "country_iso3": "NLD"}
            return httpx.post(f"{url}/api/v1/reports", json=body, timeout=120,
                              headers={"Authorization": f"Bearer {token}"}).status_code

        with ThreadPoolExecutor(max_workers=24) as pool:
            statuses = list(pool.map(post, range(24)))
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert statuses == [201] * 24
    with engine.connect() as conn:
        assert conn.execute(
            select(func.count()).select_from(reports).where(reports.c.source == "contributions")
        ).scalar_one() == 24
    engine.dispose()
