"""``biotracker detect``: run an R-surveillance-compatible detector on a CSV of weekly counts.

Other tools call it exactly as ``biotracker detect --method METHOD --input input.csv
--control control.json --output out.csv [--plot out.png]``; the formats are those of the R
reference files (see docs/DETECTORS.md).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import typer
from rich.console import Console

from biotracker.errors import ConfigError

console = Console(stderr=True)


def detect_command(
    method: str = typer.Option(..., "--method", help="farringtonFlexible, farrington, earsC or cusum."),
    input_csv: Path = typer.Option(..., "--input", help="CSV: t, date, year, week, observed [, series_id]."),
    control_json: Path = typer.Option(
        ..., "--control", help='R control list as a JSON object, plus "range": [start, end].'
    ),
    output_csv: Path = typer.Option(
        ..., "--output", help="Where to write t [, series_id], upperbound, alarm [, expected]."
    ),
    plot: Path | None = typer.Option(
        None, "--plot", help="Also draw observed, upper bound and alarms (first series) to this PNG."
    ),
) -> None:
    """Score weekly counts for aberrations with R surveillance's algorithms (identical alarms)."""
    from biotracker.scoring.detectors import detect
    from biotracker.scoring.detectors.io import read_input, result_frame, write_output

    try:
        control = json.loads(control_json.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"control file {control_json} does not exist") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"control file {control_json} is not valid JSON: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the control file {control_json}: {exc}") from exc
    if not isinstance(control, dict):
        raise ConfigError('the control file must hold a JSON object, e.g. {"b": 5, "range": [264, 312]}')
    batches = read_input(input_csv)
    frames = []
    first = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for batch in batches:
            result = detect(method, batch.observed, batch.dates, control)
            frames.append(result_frame(result, batch.series_ids))
            first = first or (batch, result)
    for w in {str(w.message) for w in caught}:
        console.print(f"[yellow]warning:[/yellow] {w}")
    write_output(frames, output_csv)
    if plot is not None and first is not None:
        from biotracker.scoring.detectors.plot import plot_detection

        batch, result = first
        pos = result.t - 1
        title = f"{method}" + (f" — {batch.series_ids[0]}" if batch.series_ids else "")
        plot_detection(
            plot,
            result.t,
            batch.observed[0, pos],
            result.upperbound[0],
            result.alarm[0],
            title=title,
            dates=None if batch.dates is None else batch.dates[pos],
        )


def register(app: typer.Typer) -> None:
    """Attach ``biotracker detect`` to the main app."""
    app.command("detect")(detect_command)
