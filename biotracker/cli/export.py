"""``biotracker export`` (CAP 1.2, STIX 2.1, JSON) and ``biotracker mail`` (digests by email).

Every command writes only what its audience may receive: the analysts' own view (``internal``,
cleared for TLP:RED, law enforcement) unless ``--subscriber`` names a profile of the subscribers file
or ``--clearance`` narrows it. The marking of what was written is printed and stored with it.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from biotracker.cli.options import iso_day, iso_moment
from biotracker.config import Settings, load_settings
from biotracker.errors import ConfigError

if TYPE_CHECKING:
    from biotracker.outputs.audience import Audience
    from biotracker.outputs.records import OutputData

console = Console()

export_app = typer.Typer(
    name="export",
    help="Export alerts and incidents for other systems: CAP 1.2 messages, a STIX 2.1 bundle, or JSON. "
    "Only what the audience is cleared for is written, marked with its most restrictive TLP.",
    no_args_is_help=True,
)
mail_app = typer.Typer(
    name="mail",
    help="Email digests to the subscribers of BIOTRACKER_SUBSCRIBERS_FILE (stored first, then sent via SMTP).",
    no_args_is_help=True,
)

SUBSCRIBER = typer.Option(None, "--subscriber", help="Export for this profile of the subscribers file.")
CLEARANCE = typer.Option(
    None,
    "--clearance",
    help="Export for an audience cleared for this TLP "
    "(CLEAR, GREEN, AMBER, AMBER+STRICT, RED; non-law-enforcement).",
)
SINCE = typer.Option(
    None,
    callback=iso_moment,
    help="Only alerts of weeks starting on or after this ISO date (and incidents first seen since).",
)
UNTIL = typer.Option(
    None, callback=iso_moment, help="Only alerts of weeks starting before this ISO date (exclusive)."
)
AS_JSON = typer.Option(False, "--json", help="Print the summary as JSON.")


def _settings() -> Settings:
    return load_settings()


def _audience(settings: Settings, subscriber: str | None, clearance: str | None):
    from biotracker.outputs.audience import INTERNAL, Audience, load_subscribers
    from biotracker.schema import Tlp

    if subscriber and clearance:
        raise typer.BadParameter("give --subscriber or --clearance, not both")
    if subscriber:
        if settings.subscribers_file is None:
            raise ConfigError(
                "--subscriber needs BIOTRACKER_SUBSCRIBERS_FILE (see config/subscribers.example.toml)"
            )
        return load_subscribers(settings.subscribers_file).get(subscriber)
    if clearance:
        try:
            tlp = Tlp.parse(clearance)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="'--clearance'") from exc
        return Audience(name=f"cleared-{tlp.value}", clearance=tlp, kind="partner")
    return INTERNAL


def _data(settings: Settings, since: str | None, until: str | None, audience: Audience) -> OutputData:
    """What ``audience`` may be given: derived data read from the visibility scope it is cleared for."""
    from biotracker.db.engine import open_store
    from biotracker.outputs.records import load_output_data
    from biotracker.schema import Window, as_utc

    window = None
    if since or until:
        try:
            window = Window(as_utc(since or "1900-01-01"), as_utc(until or "2999-01-01"))
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
    return load_output_data(open_store(settings), window, audience=audience)


def _report(summary: dict, as_json: bool, line: str) -> None:
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        console.print(line)


@export_app.command("cap")
def export_cap_command(
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Folder for the messages (default: var/out/cap)."
    ),
    subscriber: str | None = SUBSCRIBER,
    clearance: str | None = CLEARANCE,
    since: str | None = SINCE,
    until: str | None = UNTIL,
    as_json: bool = AS_JSON,
) -> None:
    """One CAP 1.2 message per alert (<alert_id>.cap.xml), each validated against the OASIS XSD, and MANIFEST.json."""
    from biotracker.outputs.cap import export_cap

    settings = _settings()
    audience = _audience(settings, subscriber, clearance)
    result = export_cap(
        _data(settings, since, until, audience),
        audience,
        output or settings.out_dir / "cap",
        sender=settings.mail_from,
        sent_at=dt.datetime.now(dt.UTC),
    )
    _report(
        result.summary(),
        as_json,
        f"{len(result.files)} CAP message(s) for {audience.name} in "
        f"{result.directory} ({result.marking}; {result.withheld} withheld)",
    )


@export_app.command("stix")
def export_stix_command(
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Bundle file (default: var/out/stix-bundle.json)."
    ),
    subscriber: str | None = SUBSCRIBER,
    clearance: str | None = CLEARANCE,
    since: str | None = SINCE,
    until: str | None = UNTIL,
    as_json: bool = AS_JSON,
) -> None:
    """A STIX 2.1 bundle: incidents, reports, locations and alert notes, each with its TLP 2.0 marking definition."""
    from biotracker.outputs.stix import export_stix

    settings = _settings()
    audience = _audience(settings, subscriber, clearance)
    result = export_stix(
        _data(settings, since, until, audience), audience, output or settings.out_dir / "stix-bundle.json"
    )
    counts = ", ".join(f"{n} {k}" for k, n in sorted(result.objects.items()))
    _report(
        result.summary(),
        as_json,
        f"STIX bundle for {audience.name}: {counts} -> {result.path} "
        f"({result.marking}; {result.withheld} withheld)",
    )


@export_app.command("json")
def export_json_command(
    output: Path | None = typer.Option(
        None, "--output", "-o", help="JSON file (default: var/out/export.json)."
    ),
    subscriber: str | None = SUBSCRIBER,
    clearance: str | None = CLEARANCE,
    since: str | None = SINCE,
    until: str | None = UNTIL,
    as_json: bool = AS_JSON,
) -> None:
    """Alerts and incidents as one JSON document (schema v1 fields, each with its enforced TLP)."""
    from biotracker.outputs.jsonexport import export_json

    settings = _settings()
    audience = _audience(settings, subscriber, clearance)
    result = export_json(
        _data(settings, since, until, audience), audience, output or settings.out_dir / "export.json"
    )
    _report(
        result.summary(),
        as_json,
        f"{result.alerts} alert(s), {result.incidents} incident(s) for {audience.name} "
        f"-> {result.path} ({result.marking}; {result.withheld} withheld)",
    )


@export_app.command("misp")
def export_misp_command(
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Feed folder (default: var/out/misp-feed); a MISP instance pulls it as a feed.",
    ),
    audience_name: str | None = typer.Option(
        None, "--audience", help="Export for this profile of the subscribers file (like --subscriber)."
    ),
    subscriber: str | None = SUBSCRIBER,
    clearance: str | None = CLEARANCE,
    org: str = typer.Option(
        "Biotracker", "--org", help="Name of the organisation that creates the events (Orgc)."
    ),
    org_uuid: str | None = typer.Option(
        None, "--org-uuid", help="UUID of that organisation in MISP (default: derived from --org)."
    ),
    sharing_group: str | None = typer.Option(
        None, "--sharing-group", help="Give TLP:AMBER events to this MISP sharing group (distribution 4)."
    ),
    since: str | None = SINCE,
    until: str | None = UNTIL,
    as_json: bool = AS_JSON,
) -> None:
    """A MISP static feed: manifest.json, hashes.csv and one <uuid>.json event per incident (RED never leaves)."""
    from biotracker.db.engine import open_store
    from biotracker.outputs.misp import MispOrg, export_misp, with_all_assessments

    settings = _settings()
    if audience_name and subscriber:
        raise typer.BadParameter("give --audience or --subscriber, not both")
    try:
        creator = MispOrg.named(org, org_uuid)
    except ValueError as exc:
        raise typer.BadParameter(f"{org_uuid!r} is not a UUID", param_hint="--org-uuid") from exc
    audience = _audience(settings, audience_name or subscriber, clearance)
    result = export_misp(
        with_all_assessments(_data(settings, since, until, audience), open_store(settings)),
        audience,
        output or settings.out_dir / "misp-feed",
        now=dt.datetime.now(dt.UTC),
        org=creator,
        sharing_group=sharing_group,
    )
    _report(
        result.summary(),
        as_json,
        f"MISP feed for {audience.name}: {result.counts['events']} event(s), {result.counts['objects']} object(s), "
        f"{result.changed} new or changed -> {result.directory} ({result.marking}; {result.withheld} withheld)",
    )


@mail_app.command("digests")
def mail_digests_command(
    day: str | None = typer.Option(None, callback=iso_day, help="Digest day (ISO date). Default: today."),
    dry_run: bool = typer.Option(False, help="Store the messages in the outbox without sending them."),
    as_json: bool = AS_JSON,
) -> None:
    """Render each subscriber's digest, store it, and send it (multipart text + HTML)."""
    from biotracker.db.engine import open_store
    from biotracker.outputs.audience import load_subscribers
    from biotracker.outputs.publish import publish_day

    settings = _settings()
    if settings.subscribers_file is None:
        raise ConfigError(
            "set BIOTRACKER_SUBSCRIBERS_FILE to a subscribers TOML file (see config/subscribers.example.toml)"
        )
    result = publish_day(
        open_store(settings),
        settings,
        dt.date.fromisoformat(day) if day else dt.date.today(),
        subscribers=load_subscribers(settings.subscribers_file),
        send=not dry_run,
        sent_at=dt.datetime.now(dt.UTC),
    )
    _report(
        result.summary(),
        as_json,
        f"mailed {len(result.mailed)}, queued {len(result.queued)}, "
        f"stored digests {len(result.subscriber_digests)}",
    )


@mail_app.command("send-outbox")
def mail_outbox_command(
    resend_in_doubt: bool = typer.Option(
        False,
        "--resend-in-doubt",
        help="Also send again the messages whose session broke during DATA (check first that the "
        "recipients did not get them: they may have been delivered).",
    ),
    as_json: bool = AS_JSON,
) -> None:
    """Send the stored messages that earlier runs could not deliver (never those in doubt, unless asked)."""
    from biotracker.outputs.mail import send_outbox

    settings = _settings()
    result = send_outbox(settings, resend_in_doubt=resend_in_doubt)
    _report(
        result.summary(),
        as_json,
        f"sent {len(result.sent)}, still failing {len(result.failed)}, in doubt {len(result.in_doubt)}"
        + (" (may have been delivered; check, then use --resend-in-doubt)" if result.in_doubt else ""),
    )
    if result.failed or result.in_doubt:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")
    app.add_typer(mail_app, name="mail")
