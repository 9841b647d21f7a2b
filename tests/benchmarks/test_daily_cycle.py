"""benchmarks/daily_cycle.py at a tiny size, so it cannot rot: on both backends it builds (then reuses)
its resampled store, times one day, and ends with the JSON line the issue defines. Both backends
are handed the same store and the same day, so they must have touched the same work. No timing is
asserted: the figures are the benchmark's to print."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STAGES = ["store", "incidents", "score", "lens", "alerts", "rank", "publish"]


def _cycle(folder: Path, backend: str) -> dict:
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "daily_cycle.py"), "--history", "1500", "--daily", "150",
         "--backend", backend, "--json"],
        capture_output=True, text=True, timeout=600, cwd=REPO, check=False,
        env=os.environ | {"BIOTRACKER_BENCH_DIR": str(folder)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    print(done.stdout)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_daily_cycle_benchmark_times_every_stage_on_both_backends(tmp_path):
    sqlite = _cycle(tmp_path, "sqlite")
    assert (tmp_path / "store-1500-7" / "biotracker.db").exists(), "the store is cached for the next run"
    postgres = _cycle(tmp_path, "postgresql")

    for figures, backend in ((sqlite, "sqlite"), (postgres, "postgresql")):
        assert figures["history"] == 1500 and figures["backend"] == backend
        assert list(figures["stages"]) == STAGES and list(figures["cpu_stages"]) == STAGES
        assert abs(figures["total_s"] - sum(figures["stages"].values())) < 0.01
        assert 0 < figures["peak_rss_mb"] < 4096
        # every scope re-clusters at least the day's new reports, and something gets scored and assessed
        assert figures["touched"]["reports_clustered"] >= 150
        assert figures["touched"]["series_scored"] > 0 and figures["touched"]["incidents_assessed"] > 0
    assert postgres["touched"] == sqlite["touched"], "the same store and day touch the same work on both backends"
