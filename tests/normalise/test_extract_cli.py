"""The command-line contract other tools rely on:
``biotracker extract --input reports.jsonl --output extracted.jsonl``."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from biotracker.cli.main import app

from tests.conftest import FIXTURES

SAMPLE = FIXTURES / "extraction" / "reports_sample.jsonl"


def test_one_output_object_per_input_line_in_order(tmp_path: Path) -> None:
    out = tmp_path / "extracted.jsonl"
    result = CliRunner().invoke(app, ["extract", "--input", str(SAMPLE), "--output", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["cghss:DON-2014-03-30-a", "cghss:DON-1999-04-28-a", None,
                                       "promed:8711146", "bad-date"]
    ebola, mening, broken, promed, bad_date = rows
    assert ebola["countries"] == ["GIN"] and ebola["diseases"][0]["agent_id"] == "NCBITaxon:186538"
    assert mening["countries"] == ["SDN"] and mening["diseases"][0]["name"] == "meningococcal disease"
    assert promed["countries"] == ["FIN"] and promed["diseases"][0]["agent_id"] == "NCBITaxon:102793"
    for row in rows:
        assert set(row) >= {"id", "diseases", "countries", "cases", "deaths"}
    assert "not valid JSON" in broken["error"] and broken["diseases"] == []
    assert "YYYY-MM-DD" in bad_date["error"]


def test_strict_mode_fails_when_a_line_was_unreadable(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["extract", "--input", str(SAMPLE), "--output", str(tmp_path / "o.jsonl"),
                                      "--strict"])
    assert result.exit_code == 1


def test_a_missing_input_file_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["extract", "--input", str(tmp_path / "nope.jsonl"),
                                      "--output", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2
