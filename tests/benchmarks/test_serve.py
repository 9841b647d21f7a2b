"""benchmarks/serve.py at a tiny size, so it cannot rot: it builds its resampled store from the demo,
serves it, drives every request kind without errors (the API's, then with ``--pages`` the workbench's
pages through a login session, on the store it built), and the store it builds is faithful (every
scope the code materialises has derived rows, built only from reports that scope may use). No
timing is asserted: the figures are the benchmark's to print."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from tests import pg_cluster

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

from serve import admits


def test_the_serving_benchmark_runs_at_a_tiny_size_without_errors(postgres_cluster, postgres_demo_template):
    template, _raw = postgres_demo_template
    url = pg_cluster.clone_database(postgres_cluster, template, f"bt_{uuid.uuid4().hex[:12]}")
    # five copies of the demo's reports: three as recorded, two as contributions (AMBER, AMBER+STRICT)

    def bench(*extra: str) -> dict:
        done = subprocess.run(
            [sys.executable, str(REPO / "benchmarks" / "serve.py"), "--database-url", url, "--reports", "25000",
             "--alerts", "600", "--analysts", "3", "--seconds", "4", "--warmup", "1", "--think", "0", "0.05",
             "--workers", "1", "--json", *extra],
            capture_output=True, text=True, timeout=600, cwd=REPO,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        print(done.stdout)
        return json.loads(done.stdout.strip().splitlines()[-1])

    figures = bench()

    assert figures["store"]["reports"] >= 25000
    assert any(s.startswith("org:") for s in figures["scopes"]), "contribution copies make organisation scopes"
    assert set(figures["alerts_by_scope"]) == set(figures["scopes"])
    kinds = figures["kinds"]
    assert {"alert list (filtered)", "alert page data", "incident data", "report", "contribution"} <= set(kinds)
    assert all(k["count"] > 0 and k["errors"] == 0 for k in kinds.values()), kinds

    pages = bench("--pages")  # the store it built is reused as it is
    kinds = pages["kinds"]
    assert {"queue page (filtered)", "alert page", "incident page", "contribution"} <= set(kinds)
    assert all(k["count"] > 0 and k["errors"] == 0 for k in kinds.values()), kinds
    assert all(k["server_p95_ms"] is not None for k in kinds.values()), "every answer carries Server-Timing"

    from biotracker.incidents.scopes import intake_sources, scope_named

    engine = create_engine(url)
    with engine.connect() as conn:
        for key in figures["scopes"]:
            scope = scope_named(key)
            linked = conn.execute(text(
                "SELECT DISTINCT r.source, r.tlp, r.originator_org, r.share_with::text AS share_with, r.withdrawn_at "
                "FROM reports r "
                "JOIN incident_reports l ON l.report_id = r.report_id WHERE l.scope = :s"), {"s": key}).mappings()
            rows = [dict(r) | {"share_with": json.loads(r["share_with"] or "null")} for r in linked]
            assert rows, f"scope {key} has no incidents"
            assert all(admits(scope, r, intake_sources()) for r in rows), f"scope {key} links a report it may not use"
            orphans = conn.execute(text(
                "SELECT count(*) FROM alerts a LEFT JOIN incidents i ON i.incident_id = a.incident_id "
                "WHERE a.scope = :s AND a.incident_id IS NOT NULL AND i.scope IS DISTINCT FROM a.scope"),
                {"s": key}).scalar_one()
            assert orphans == 0, f"alerts of {key} point at incidents of another scope"
    engine.dispose()
