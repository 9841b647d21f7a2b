"""Data flows one way (import-linter layers contract in .importlinter) and airflow stays under dags/."""

import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
LINT = pathlib.Path(sys.executable).parent / "lint-imports"


def run(config: pathlib.Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), "--config", str(config), "--no-cache"], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


def test_the_layers_contract_holds():
    result = run(REPO / ".importlinter")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "2 kept, 0 broken" in result.stdout


def test_the_checker_catches_an_upside_down_layering(tmp_path):
    text = (REPO / ".importlinter").read_text()
    flipped = text.replace("    biotracker.normalise\n    biotracker.ingest\n", "    biotracker.ingest\n    biotracker.normalise\n")
    assert flipped != text
    config = tmp_path / "flipped.ini"
    config.write_text(flipped)
    assert run(config).returncode != 0
