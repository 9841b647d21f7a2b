"""``biotracker connectors``: list, scaffold, check and re-record feed connectors (for data engineers)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from biotracker.cli.operator_errors import fail
from biotracker.config import BUNDLED_RECORDINGS
from biotracker.errors import BiotrackerError, FetchError

console = Console()
connectors_app = typer.Typer(
    help="Feed connectors: list them, scaffold a new one, check it, re-record its fixture.",
    no_args_is_help=True,
)


def connector_rows(recordings: Path = BUNDLED_RECORDINGS) -> list[dict[str, object]]:
    """One description per connector: facts, format and the provenance of its recorded fixture."""
    from biotracker.ingest.connector import CsvConnector, JsonApiConnector
    from biotracker.ingest.dropfolder import DropFolderConnector
    from biotracker.ingest.registry import connector_classes
    from biotracker.ingest.replay import read_cassette
    from biotracker.ingest.rss import RssConnector

    rows = []
    for name, cls in connector_classes().items():
        if issubclass(cls, DropFolderConnector):
            fmt = "dropfolder (csv/json)"
        elif issubclass(cls, RssConnector):
            fmt = "rss"
        elif issubclass(cls, JsonApiConnector):
            fmt = "json"
        elif issubclass(cls, CsvConnector):
            fmt = "csv"
        else:
            fmt = "custom"
        try:
            cassette = read_cassette(recordings / name)
            provenance, recording = (
                " ".join(str(cassette["provenance"]).split()),
                cassette.get("recording", ""),
            )
        except BiotrackerError as exc:
            provenance, recording = f"MISSING: {exc}", "missing"
        rows.append(
            {
                "name": name,
                "title": cls.title,
                "kind": cls.kind.value,
                "url": cls.url,
                "tlp": str(cls.tlp),
                "cadence": cls.cadence,
                "format": fmt,
                "origin": cls.origin,
                "fetch": cls.fetch_kind,
                "recording": recording,
                "fixture_provenance": provenance,
            }
        )
    return rows


@connectors_app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print a JSON list of objects.")) -> None:
    """Every registered connector (modules and connectors/feeds.yaml entries) with its fixture's provenance."""
    rows = connector_rows()
    if as_json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    table = Table(title=f"{len(rows)} connectors")
    for col in ("name", "kind", "format", "origin", "TLP", "cadence", "fixture"):
        table.add_column(col)
    for r in rows:
        style = "green" if str(r["recording"]).startswith("real") else "yellow"
        table.add_row(
            str(r["name"]),
            str(r["kind"]),
            str(r["format"]),
            str(r["origin"]),
            str(r["tlp"]),
            str(r["cadence"]),
            f"[{style}]{escape(str(r['recording']))}[/{style}]",
        )
    console.print(table)
    real = sum(1 for r in rows if str(r["recording"]).startswith("real"))
    console.print(
        f"{real} of {len(rows)} replay real recordings; the others are constructed from documentation. "
        "Full provenance: `biotracker connectors list --json`."
    )


@connectors_app.command("new")
def new(
    name: str = typer.Argument(..., help="snake_case connector name (also the module / entry name)."),
    fmt: str = typer.Option(..., "--format", help="rss | json | csv"),
    url: str = typer.Option("https://example.org/feed", help="The feed's address."),
    kind: str = typer.Option(
        "public_health", help="public_health | veterinary | osint | law_enforcement | context"
    ),
    title: str | None = typer.Option(None, help="Human title (default: from the name)."),
    module: bool = typer.Option(
        False, "--module", help="Write a Python module instead of a declarative entry."
    ),
) -> None:
    """Scaffold a connector: a feeds.yaml entry (rss/json) or a module (csv), plus its fixture folder."""
    from biotracker.config import REPO_DIR
    from biotracker.ingest.registry import connector_classes
    from biotracker.ingest.scaffold import scaffold_connector
    from biotracker.schema import SourceKind

    try:
        SourceKind(kind)
    except ValueError:
        raise typer.BadParameter(
            f"{kind!r} is not one of {', '.join(k.value for k in SourceKind)}", param_hint="'--kind'"
        ) from None
    try:
        result = scaffold_connector(
            name,
            fmt,
            connectors_dir=REPO_DIR / "connectors",
            recordings=BUNDLED_RECORDINGS,
            url=url,
            kind=kind,
            title=title,
            module=module,
            known=set(connector_classes()),
        )
    except ValueError as exc:  # a value the scaffold cannot use: the operator's to fix
        raise typer.BadParameter(str(exc)) from exc
    for path in result.created:
        console.print(f"wrote {path}")
    console.print(
        "Next: replace the placeholder payload with a real one (or `biotracker connectors record "
        f"{name}`), fill in provenance and terms, then `biotracker connectors check {name} --update-snapshot`."
    )


@connectors_app.command("check")
def check(
    name: str = typer.Argument(..., help="Connector name."),
    update_snapshot: bool = typer.Option(
        False,
        "--update-snapshot",
        help="Rewrite expected.json from the recording first (review the diff before committing).",
    ),
    only: list[str] | None = typer.Option(None, "--only", help="Run only this check (repeatable)."),
) -> None:
    """Run the conformance kit for one connector against its recorded fixture, with readable output."""
    import tempfile

    from biotracker.testing.connector_checks import Harness, run_checks

    if update_snapshot:
        with tempfile.TemporaryDirectory(prefix=f"bt-snapshot-{name}-") as tmp:
            path = Harness(name, workdir=Path(tmp)).write_snapshot()
        console.print(f"snapshot written: {path}")
    results = run_checks(name, only=only)
    marks = {"passed": "[green]pass[/green]", "failed": "[red]FAIL[/red]", "skipped": "[yellow]skip[/yellow]"}
    table = Table(title=f"conformance of {name}")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail")
    for r in results:
        table.add_row(r.check, marks[r.status], escape(r.message))
    console.print(table)
    failed = [r for r in results if r.status == "failed"]
    console.print(f"{len(results) - len(failed)} of {len(results)} checks passed or skipped with a reason.")
    if failed:
        raise typer.Exit(1)


@connectors_app.command("record")
def record(
    name: str = typer.Argument(..., help="Connector name."),
    days: int = typer.Option(7, min=1, max=3660, help="Record the window of the last DAYS days."),
    out: Path | None = typer.Option(None, help=f"Folder to write (default: {BUNDLED_RECORDINGS}/NAME)."),
) -> None:
    """Re-record a connector's fixture from the live service (needs internet; replaces the recording)."""
    from biotracker.config import load_settings
    from biotracker.ingest.http import HttpClient
    from biotracker.ingest.record import record_fixture
    from biotracker.schema import UTC, Window

    now = dt.datetime.now(UTC)
    try:
        settings = load_settings()
        with HttpClient(settings) as client:
            path = record_fixture(
                name,
                client,
                out or BUNDLED_RECORDINGS / name,
                Window(now - dt.timedelta(days=days), now),
                now,
            )
    except FetchError as exc:  # the service, not the operator: exit 1, still one line
        fail(str(exc), code=1)
    console.print(f"recorded: {path}")
    console.print(f"Now run `biotracker connectors check {name} --update-snapshot` and review the diff.")


def register(app: typer.Typer) -> None:
    app.add_typer(connectors_app, name="connectors")
