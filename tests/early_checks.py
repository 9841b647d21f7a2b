"""Slow single-process checks started when the session starts, so they run on the second core while
the first tests run (CI has 2 cores; mypy on a cold cache takes a minute or more). The test that
asserts on a check waits for its result; run on its own, that test starts the check itself."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: node id of the test -> the command it checks (run with this interpreter, in the repository root).
CHECKS: dict[str, list[str]] = {"tests/test_code_health.py::test_mypy_reports_nothing": ["mypy"]}


@dataclass
class Started:
    process: subprocess.Popen[bytes]
    output: Path

    def result(self) -> subprocess.CompletedProcess[str]:
        self.process.wait()
        text = self.output.read_text(errors="replace")
        self.output.unlink(missing_ok=True)
        return subprocess.CompletedProcess(self.process.args, self.process.returncode, text, "")


_started: dict[str, Started] = {}


def start(nodeid: str) -> None:
    """Start the check behind ``nodeid`` in the background (its output goes to a temporary file)."""
    fd, name = tempfile.mkstemp(prefix="early-check-", suffix=".log")
    process = subprocess.Popen([sys.executable, "-m", *CHECKS[nodeid]], cwd=ROOT, stdout=fd, stderr=subprocess.STDOUT)
    _started[nodeid] = Started(process, Path(name))


def result(nodeid: str) -> subprocess.CompletedProcess[str]:
    """The finished check's exit code and output (stdout and stderr together)."""
    if nodeid not in _started:
        start(nodeid)
    return _started.pop(nodeid).result()


def start_selected(nodeids: list[str]) -> None:
    for nodeid in nodeids:
        if nodeid in CHECKS and nodeid not in _started:
            start(nodeid)
