"""``biotracker detect``: the command-line contract other tools rely on."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from biotracker.cli.main import app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "surveillance"
runner = CliRunner()


def _control_file(tmp_path: Path, series: str, algorithm: str) -> Path:
    sidecar = json.loads((FIXTURES / series / f"{algorithm}.json").read_text())
    control = dict(sidecar["control_passed"], range=[sidecar["range_start"], sidecar["range_end"]])
    path = tmp_path / "control.json"
    path.write_text(json.dumps(control))
    return path


def _run(*args: str):
    return runner.invoke(app, ["detect", *map(str, args)])


def test_output_matches_r_and_writes_na(tmp_path: Path) -> None:
    control = _control_file(tmp_path, "salmNewport_total", "ff_noufaily")
    out = tmp_path / "out.csv"
    result = _run(
        "--method",
        "farringtonFlexible",
        "--input",
        FIXTURES / "salmNewport_total" / "input.csv",
        "--control",
        control,
        "--output",
        out,
    )
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.splitlines()[0] == "t,upperbound,alarm,expected"
    assert ",NA," in text
    got = pd.read_csv(out)
    want = pd.read_csv(FIXTURES / "salmNewport_total" / "ff_noufaily.csv")
    np.testing.assert_array_equal(got["t"], want["t"])
    np.testing.assert_array_equal(got["upperbound"].isna(), want["upperbound"].isna())
    np.testing.assert_array_equal(got["upperbound"].dropna(), want["upperbound"].dropna())
    np.testing.assert_array_equal(got["alarm"], want["alarm"])
    np.testing.assert_allclose(got["expected"].dropna(), want["expected"].dropna(), rtol=1e-6)


def test_long_form_scores_each_series_like_a_single_run(tmp_path: Path) -> None:
    single = pd.read_csv(FIXTURES / "syn_nb_A" / "input.csv")
    other = single.copy()
    other["observed"] = other["observed"][::-1].to_numpy()
    long = pd.concat([single.assign(series_id="a"), other.assign(series_id="b")])
    long.to_csv(tmp_path / "long.csv", index=False, na_rep="NA")
    control = _control_file(tmp_path, "syn_nb_A", "earsC3")
    result = _run(
        "--method",
        "earsC",
        "--input",
        tmp_path / "long.csv",
        "--control",
        control,
        "--output",
        tmp_path / "out.csv",
    )
    assert result.exit_code == 0, result.output
    got = pd.read_csv(tmp_path / "out.csv")
    assert list(got.columns) == ["series_id", "t", "upperbound", "alarm"]
    want = pd.read_csv(FIXTURES / "syn_nb_A" / "earsC3.csv")
    a = got[got["series_id"] == "a"]
    np.testing.assert_allclose(a["upperbound"], want["upperbound"], rtol=1e-6)
    np.testing.assert_array_equal(a["alarm"], want["alarm"])
    assert len(got[got["series_id"] == "b"]) == len(want)


def test_plot_is_written(tmp_path: Path) -> None:
    control = _control_file(tmp_path, "salmonella_agona", "cusum")
    png = tmp_path / "plot.png"
    result = _run(
        "--method",
        "cusum",
        "--input",
        FIXTURES / "salmonella_agona" / "input.csv",
        "--control",
        control,
        "--output",
        tmp_path / "out.csv",
        "--plot",
        png,
    )
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "control, fragment",
    [
        ({"alpha": 2, "range": [264, 312]}, "alpha"),
        ({"range": [264, 999]}, "range"),
        ([1, 2], "JSON object"),
        ({"b": 5, "pThresholdTrnd": 1, "range": [264, 312]}, "'pThresholdTrnd' is not a setting of farringtonFlexible"),
    ],
)
def test_bad_control_exits_2_with_a_message(tmp_path: Path, control, fragment: str) -> None:
    path = tmp_path / "control.json"
    path.write_text(json.dumps(control))
    result = _run(
        "--method",
        "farringtonFlexible",
        "--input",
        FIXTURES / "salmonella_agona" / "input.csv",
        "--control",
        path,
        "--output",
        tmp_path / "out.csv",
    )
    assert result.exit_code == 2
    assert fragment in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(
    shutil.which("biotracker", path=str(Path(sys.executable).parent)) is None,
    reason="console script not installed",
)
def test_installed_command_line(tmp_path: Path) -> None:
    control = _control_file(tmp_path, "abattoir", "earsC1")
    exe = Path(sys.executable).parent / "biotracker"
    proc = subprocess.run(
        [
            str(exe),
            "detect",
            "--method",
            "earsC",
            "--input",
            str(FIXTURES / "abattoir" / "input.csv"),
            "--control",
            str(control),
            "--output",
            str(tmp_path / "out.csv"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    got = pd.read_csv(tmp_path / "out.csv")
    want = pd.read_csv(FIXTURES / "abattoir" / "earsC1.csv")
    np.testing.assert_array_equal(got["alarm"], want["alarm"])
