"""Code health is part of the test command: ruff (lint and format) and mypy over the shipped code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests import early_checks

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ["biotracker", "connectors", "dags"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_lint_reports_nothing() -> None:
    result = _run("ruff", "check", *CHECKED)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_leaves_every_file_unchanged() -> None:
    result = _run("ruff", "format", "--check", *CHECKED)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_reports_nothing() -> None:
    """The settings are pyproject.toml's [tool.mypy] (files: biotracker, connectors, dags). mypy
    starts with the session (tests/early_checks.py) and runs beside the other tests."""
    result = early_checks.result("tests/test_code_health.py::test_mypy_reports_nothing")
    assert result.returncode == 0, result.stdout + result.stderr
