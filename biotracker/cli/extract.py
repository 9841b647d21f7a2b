"""``biotracker extract``: run the extractor over a JSON-lines file of reports.

Contract (other tools call it exactly like this)::

    biotracker extract --input reports.jsonl --output extracted.jsonl

One output object per input line, in the same order. A line that cannot be read still gets
its output line, with empty findings and an ``error`` saying what was wrong, so nothing is
lost and line numbers stay aligned; ``--strict`` turns any such line into a non-zero exit.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import typer

from biotracker.errors import RecordError
from biotracker.normalise.extract import extract


def _published(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise RecordError(f"'published' must be an ISO date string, got {type(value).__name__}")
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        raise RecordError(f"'published' is not an ISO date: {value!r}; write it as YYYY-MM-DD") from None


def extract_line(line: str) -> dict[str, Any]:
    """Output object for one input line; raises RecordError (with the id, if known) on bad input."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise RecordError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(record, dict):
        raise RecordError("each line must be a JSON object with 'id', 'title' and 'text'")
    report_id = record.get("id")
    if not isinstance(report_id, str) or not report_id:
        raise RecordError("missing 'id' (a non-empty string)")
    title, text = record.get("title"), record.get("text") or ""
    if not isinstance(title, str) or not isinstance(text, str):
        err = RecordError("'title' must be a string and 'text' a string (it may be empty)")
        err.report_id = report_id  # type: ignore[attr-defined]
        raise err
    try:
        published = _published(record.get("published"))
    except RecordError as err:
        err.report_id = report_id  # type: ignore[attr-defined]
        raise
    return extract(title, text, published).to_json(report_id)


def extract_lines(lines: TextIO) -> Iterator[tuple[dict[str, Any], str | None]]:
    """(output object, error message or None) for every line of ``lines``, in order."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield extract_line(line), None
        except RecordError as err:
            message = f"line {number}: {err}"
            yield (
                {
                    "id": getattr(err, "report_id", None),
                    "diseases": [],
                    "countries": [],
                    "inferred_countries": [],
                    "cases": None,
                    "deaths": None,
                    "error": message,
                },
                message,
            )


def register(app: typer.Typer) -> None:
    @app.command("extract")
    def extract_command(
        input_path: Path = typer.Option(
            ...,
            "--input",
            exists=True,
            dir_okay=False,
            readable=True,
            help="JSON lines: id, title, text (may be empty), optional published (ISO date).",
        ),
        output_path: Path = typer.Option(
            ...,
            "--output",
            dir_okay=False,
            help="JSON lines out: id, diseases, countries, cases, deaths (+ evidence).",
        ),
        strict: bool = typer.Option(
            False, "--strict", help="Exit with status 1 if any input line was unreadable."
        ),
    ) -> None:
        """Extract diseases, agents, countries, hosts, case and death counts from reports."""
        errors: list[str] = []
        n = 0
        with input_path.open(encoding="utf-8") as src, output_path.open("w", encoding="utf-8") as dst:
            for obj, error in extract_lines(src):
                dst.write(json.dumps(obj, ensure_ascii=False) + "\n")
                n += 1
                if error:
                    errors.append(error)
        for message in errors[:20]:
            print(f"warning: {message}", file=sys.stderr)
        print(f"extracted {n} reports ({len(errors)} unreadable lines) -> {output_path}", file=sys.stderr)
        if errors and strict:
            raise typer.Exit(code=1)
