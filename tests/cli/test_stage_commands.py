"""The single-stage commands (`biotracker ingest`, `biotracker normalise`) on a bundled recording.

Specification: fetching one source from its recording and then normalising it prints how many
reports landed and how many incidents were re-clustered, and exits 0.
"""

from __future__ import annotations

import re

from typer.testing import CliRunner

from biotracker.cli.main import app
from biotracker.config import BUNDLED_RECORDINGS

WINDOW = ["--start", "2000-01-01", "--end", "2030-01-01"]


def test_normalise_reports_the_incidents_it_re_clustered(tmp_path):
    env = {"BIOTRACKER_HOME": str(tmp_path)}
    runner = CliRunner()
    fetched = runner.invoke(
        app, ["ingest", *WINDOW, "--replay", str(BUNDLED_RECORDINGS), "--source", "cidrap"], env=env
    )
    assert fetched.exit_code == 0, fetched.output
    result = runner.invoke(app, ["normalise", *WINDOW, "--source", "cidrap"], env=env)
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    counts = re.search(r"(\d+) reports from 1 payload\(s\).*; (\d+) incidents re-clustered", result.output)
    assert counts, result.output
    assert int(counts[1]) > 0 and int(counts[2]) > 0, result.output
