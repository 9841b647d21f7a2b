"""``biotracker backtest``: replay a dated stream day by day and write the alerts it would have raised.

Other tools call it exactly as ``biotracker backtest --input stream.csv --output alerts.jsonl
[--start YYYY-MM-DD] [--end YYYY-MM-DD]`` (see docs/EARLY_WARNING.md).
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import typer

from biotracker.cli.options import iso_day


def backtest_command(
    input_csv: Path = typer.Option(
        ..., "--input", help="CSV stream: id (or post_id), date, title [, text, link, source]."
    ),
    output: Path = typer.Option(..., "--output", help="Where to write one JSON object per alert event."),
    start: str | None = typer.Option(
        None, "--start", callback=iso_day, help="First day replayed (default: first date)."
    ),
    end: str | None = typer.Option(
        None, "--end", callback=iso_day, help="Last day replayed (default: last date)."
    ),
) -> None:
    """Replay the stream through the real pipeline day by day (no look-ahead) and write alert events."""
    from biotracker.backtest import read_stream, run_backtest, write_events

    first = dt.date.fromisoformat(start) if start else None
    last = dt.date.fromisoformat(end) if end else None
    items, bad = read_stream(input_csv)
    for row in bad:
        print(f"{input_csv}: {row}", file=sys.stderr)
    result = run_backtest(items, first, last)
    written = write_events(result.events, output)
    print(
        f"{result.items} items over {result.days} days -> {written} alert events in {output}"
        + (f" ({len(bad)} malformed rows skipped)" if bad else ""),
        file=sys.stderr,
    )


def register(app: typer.Typer) -> None:
    """Attach ``biotracker backtest`` to the main app."""
    app.command("backtest")(backtest_command)
