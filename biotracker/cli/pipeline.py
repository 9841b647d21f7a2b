"""Pipeline commands: demo, ingest, normalise, score, digest, status."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from biotracker.cli.options import MAX_LOOKBACK_DAYS, iso_day, iso_moment
from biotracker.config import BUNDLED_RECORDINGS, Settings, load_settings

console = Console()


def _settings(replay: Path | None = None) -> Settings:
    settings = load_settings()  # a ConfigError becomes one line and exit 2 (cli/operator_errors.py)
    return replace(settings, replay_dir=replay) if replay else settings


def _window(start: str | None, end: str | None, default_days: int):
    from biotracker.schema import Window, as_utc

    end_at = as_utc(end) if end else as_utc(dt.date.today() + dt.timedelta(days=1))
    start_at = as_utc(start) if start else end_at - dt.timedelta(days=default_days)
    try:
        return Window(start_at, end_at)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


START = typer.Option(None, callback=iso_moment, help="Window start (ISO date/time, UTC, inclusive).")
END = typer.Option(
    None, callback=iso_moment, help="Window end (ISO date/time, UTC, exclusive). Default: tomorrow."
)
REPLAY = typer.Option(
    None,
    exists=True,
    file_okay=False,
    help="Replay recordings from this folder instead of fetching live "
    f"(the bundled ones are in {BUNDLED_RECORDINGS}).",
)


def demo(
    as_of: str | None = typer.Option(
        None, callback=iso_day, help="Digest day (ISO date). Default: the Monday after the newest report."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Run the whole chain on the bundled recorded real feeds (SQLite under var/) and write the digest.

    Recordings are replayed through a local HTTP server, so no internet is needed. Running it again
    changes no row counts.
    """
    from biotracker.pipeline import run_demo

    settings = _settings()
    day = dt.date.fromisoformat(as_of) if as_of else None
    with console.status("running the pipeline on the bundled recordings…"):
        result = run_demo(settings, as_of=day)
    if as_json:
        print(
            json.dumps(
                {
                    "row_counts": result.row_counts,
                    "digest": result.digest.summary(),
                    "exports": result.published.exports.summary(),
                    "failed_sources": result.ingest.failed,
                },
                indent=2,
            )
        )
        return
    steps = Table(title="Biotracker demo", show_lines=False)
    steps.add_column("stage")
    steps.add_column("result")
    for f in result.ingest.fetched:
        steps.add_row(f"ingest {f.source}", f"{f.pages} payload(s), {f.new_payloads} new, {f.bytes:,} bytes")
    for source, error in result.ingest.failed.items():
        steps.add_row(f"ingest {source}", f"[red]FAILED[/red]: {error}")
    n = result.normalise
    steps.add_row(
        "normalise",
        f"{n.reports} reports from {n.payloads} payload(s), {n.skipped} skipped, {n.quarantined} quarantined",
    )
    steps.add_row("incidents", f"{result.incidents.incidents} incidents")
    s = result.scoring
    steps.add_row("score", f"{s.series} series, {s.signals} signals, {s.alarms} alarms")
    lens = result.lens
    steps.add_row(
        "risk lens",
        f"{lens.incidents} incidents assessed: {lens.with_agent} with a listed agent, "
        f"{lens.flagged} with unusualness flags, {lens.with_cues} with cues",
    )
    steps.add_row("alerts", f"{result.alerts.alerts} alerts {result.alerts.by_tier}")
    steps.add_row("digest", f"{result.digest.alerts} alerts listed, {result.digest.tlp}")
    ex = result.published.exports
    steps.add_row(
        "exports",
        f"{ex.cap_messages} CAP messages, STIX bundle of {sum(ex.stix_objects.values())} "
        f"objects, JSON with {ex.json_alerts} alerts and {ex.json_incidents} incidents",
    )
    console.print(steps)
    counts = Table(title="Rows per table")
    counts.add_column("table")
    counts.add_column("rows", justify="right")
    for table, rows in result.row_counts.items():
        counts.add_row(table, str(rows))
    console.print(counts)
    console.print(f"Exports: {', '.join(ex.paths.values())}")
    console.print(f"Digest: {result.digest.html}")
    console.print(f"        {result.digest.text}")


def ingest(
    source: list[str] | None = typer.Option(
        None, "--source", "-s", help="Connector name (repeatable). Default: all."
    ),
    start: str | None = START,
    end: str | None = END,
    replay: Path | None = REPLAY,
) -> None:
    """Fetch feeds for a window into the raw archive (var/raw); a failing feed does not stop the others."""
    from biotracker import chain
    from biotracker.db.engine import open_store

    settings = _settings(replay)
    result = chain.ingest(settings, open_store(settings), _window(start, end, 7), source)
    for f in result.fetched:
        console.print(f"{f.source}: {f.pages} payload(s), {f.new_payloads} new")
    for name, error in result.failed.items():
        console.print(f"[red]{name} failed:[/red] {error}")
    if result.failed:
        raise typer.Exit(1)


def normalise(
    source: list[str] | None = typer.Option(None, "--source", "-s", help="Only payloads of this connector."),
    reprocess: bool = typer.Option(
        False, help="Normalise every archived payload again, not only pending ones."
    ),
    start: str | None = typer.Option(
        None, callback=iso_moment, help="Start of the window that was fetched (default: 7 days before --end)."
    ),
    end: str | None = END,
) -> None:
    """Parse archived payloads into reports (failures go to quarantine) and group them into incidents.

    Reports published in the fetch window (and the weeks before it, for late reports) are clustered
    again, as the scheduled chain does (biotracker/chain.py).
    """
    from biotracker import chain
    from biotracker.db.engine import open_store

    settings = _settings()
    engine = open_store(settings)
    summary = chain.normalise(settings, engine, source, reprocess)
    built, _ = chain.incidents(engine, chain.plan_windows(engine, _window(start, end, 7)), summary.report_ids)
    console.print(
        f"{summary.reports} reports from {summary.payloads} payload(s); {summary.skipped} skipped; "
        f"{summary.quarantined} quarantined; {built.incidents} incidents re-clustered"
    )


def score(start: str | None = START, end: str | None = END) -> None:
    """Score weekly series (methods.toml), assess incidents (risk lens), derive and rank alerts for the window.

    The window names the weeks to score and alert on (default: the 8 weeks before tomorrow); the risk
    lens assesses the incidents first seen in it.
    """
    from biotracker import chain
    from biotracker.db.engine import open_store

    settings = _settings()
    engine = open_store(settings)
    window = _window(start, end, 56)
    windows = chain.ChainWindows(fetch=window, day=window.end.date(), reports=window, scored=window)
    _, changed = chain.incidents(engine, windows)
    s = chain.score(engine, windows, changed)
    _, assessed = chain.lens(engine, changed)
    a = chain.alerts(engine, windows, assessed)
    chain.rank(settings, engine, a.alert_ids)
    console.print(f"{s.series} series, {s.signals} signals, {s.alarms} alarms; {a.alerts} alerts {a.by_tier}")


def run(
    start: str | None = typer.Option(
        None, callback=iso_moment, help="Fetch window start (default: 1 day before --end)."
    ),
    end: str | None = END,
    day: str | None = typer.Option(
        None,
        callback=iso_day,
        help="Digest day (ISO date). Default: from the data (see biotracker/chain.py).",
    ),
    replay: Path | None = REPLAY,
    send: bool = typer.Option(True, help="Mail the subscribers' digests (BIOTRACKER_SUBSCRIBERS_FILE)."),
) -> None:
    """Run the whole chain once for a fetch window, in this process: what the Airflow DAGs do, in order."""
    from biotracker import chain
    from biotracker.db.engine import open_store

    settings = _settings(replay)
    engine = open_store(settings)
    result = chain.run_chain(
        settings,
        engine,
        _window(start, end, 1),
        day=dt.date.fromisoformat(day) if day else None,
        send=send,
    )
    for name, error in result.ingest.failed.items():
        console.print(f"[red]{name} failed:[/red] {escape(error)}")
    console.print(f"windows: {result.windows.as_extra()}")
    console.print(
        f"{result.normalise.reports} reports; {result.incidents.incidents} incidents; "
        f"{result.scoring.signals} signals; {result.alerts.alerts} alerts; "
        f"digest {result.published.digest.html} ({result.published.digest.alerts} alerts); "
        f"mailed {len(result.published.mailed)}, queued {len(result.published.queued)}"
    )
    if result.ingest.failed:
        raise typer.Exit(1)


def migrate() -> None:
    """Bring Biotracker's database to the newest schema (run once before starting the scheduler)."""
    from biotracker.db.engine import make_engine
    from biotracker.db.engine import migrate as upgrade

    settings = _settings()
    engine = make_engine(settings)
    upgrade(engine)
    console.print(f"schema at head: {engine.url.render_as_string(hide_password=True)}")


def digest(
    day: str | None = typer.Option(None, callback=iso_day, help="Digest day (ISO date). Default: today."),
    lookback_days: int | None = typer.Option(
        None, min=0, max=MAX_LOOKBACK_DAYS, help="Days of alerts before the day (default from settings: 7)."
    ),
) -> None:
    """Write var/out/digest-YYYY-MM-DD.html and .txt: ranked alerts with reasons and source links."""
    from biotracker.db.engine import open_store
    from biotracker.outputs.digest import build_digest

    settings = _settings()
    files = build_digest(
        open_store(settings),
        settings,
        dt.date.fromisoformat(day) if day else dt.date.today(),
        lookback_days=lookback_days,
    )
    console.print(f"{files.alerts} alerts ({files.tlp})")
    console.print(str(files.html))
    console.print(str(files.text))


def status(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    html: bool = typer.Option(False, "--html", help="Also write the static ops page var/out/ops.html."),
) -> None:
    """Per source: state (ok / silent / failing), freshness, last success, last failure and why, counts.

    A source is "silent" when it has yielded no new payload for more than three times its cadence.
    """
    from biotracker.db.engine import open_store
    from biotracker.ingest.health import describe_age, source_statuses
    from biotracker.ingest.ops_page import write_ops_page
    from biotracker.schema import UTC

    settings = _settings()
    engine = open_store(settings)
    now = dt.datetime.now(UTC)
    statuses = source_statuses(engine, now)
    page = write_ops_page(engine, settings, now) if html else None
    if as_json:
        print(json.dumps([s.as_json() for s in statuses], indent=2))
        return
    table = Table(title="Source health")
    for col in (
        "source",
        "state",
        "freshness",
        "last success",
        "last failure",
        "items",
        "quarantined",
        "failures",
    ):
        table.add_column(col)
    colours = {"ok": "green", "silent": "yellow", "failing": "red", "never fetched": "dim"}
    for s in statuses:
        failure = f"{s.last_failure_at:%Y-%m-%d %H:%M}: {s.last_error}" if s.last_failure_at else "—"
        table.add_row(
            s.source,
            f"[{colours[s.state]}]{s.state}[/{colours[s.state]}]",
            describe_age(s.freshness),
            f"{s.last_success_at:%Y-%m-%d %H:%M}" if s.last_success_at else "never",
            escape(failure),
            str(s.items),
            str(s.quarantined),
            str(s.failures),
        )
    console.print(table)
    if page:
        console.print(f"Ops page: {page}")


def register(app: typer.Typer) -> None:
    for command in (demo, run, ingest, normalise, score, digest, status):
        app.command()(command)
    db = typer.Typer(help="Biotracker's own database (not Airflow's).", no_args_is_help=True)
    db.command("migrate")(migrate)
    app.add_typer(db, name="db")
