"""Export one alert from its page, in the formats the outputs already write (JSON, CAP 1.2, STIX 2.1,
MISP): the outputs' own writers, fed the alert's slice of the caller's scope and an audience cleared
for exactly that scope, so a download never carries more than the page shows."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Engine

from biotracker.incidents.scopes import Scope
from biotracker.outputs.audience import Audience
from biotracker.outputs.cap import cap_messages
from biotracker.outputs.jsonexport import json_document
from biotracker.outputs.misp import feed_document, misp_event, shareable_incidents, stamp
from biotracker.outputs.records import OutputData, load_output_data
from biotracker.outputs.stix import stix_bundle
from biotracker.schema import Window


class ExportFormat(StrEnum):
    JSON = "json"
    CAP = "cap"
    STIX = "stix"
    MISP = "misp"


@dataclass(frozen=True)
class ExportFile:
    filename: str
    media_type: str
    body: str


def caller_audience(name: str, scope: Scope) -> Audience:
    """An audience cleared for what ``scope`` holds: the export's own policy filter keeps to it."""
    return Audience(name, scope.clearance, "law_enforcement" if scope.law_enforcement else "partner")


def alert_slice(engine: Engine, scope: Scope, row: Mapping) -> OutputData:
    """The outputs' data for this one alert: it, its incident, its notes and its series, from ``scope``."""
    start = dt.datetime.combine(row["period_start"], dt.time(), dt.UTC)
    data = load_output_data(engine, Window(start, start + dt.timedelta(days=1)), scope=scope)
    alert_id, incident_id = row["alert_id"], row["incident_id"]
    return dataclasses.replace(
        data,
        alerts=[i for i in data.alerts if i.key == alert_id],
        incidents=[i for i in data.incidents if incident_id and i.key == incident_id],
        notes=data.notes_of(alert_id),
        reports=[i for i in data.reports if incident_id and i.key in _report_ids(data, incident_id)],
    )


def _report_ids(data: OutputData, incident_id: str) -> set[str]:
    return {r for i in data.incidents if i.key == incident_id for r in i.incident.report_ids}


def export_alert(
    engine: Engine,
    scope: Scope,
    row: Mapping,
    public_id: str,
    audience_name: str,
    fmt: ExportFormat,
    now: dt.datetime,
) -> ExportFile | None:
    """The alert in ``fmt``, naming its rows by their natural ids as the pages do; None when the
    format has nothing to carry (MISP needs an incident)."""
    written = _written(engine, scope, row, public_id, audience_name, fmt, now)
    return dataclasses.replace(written, body=natural_ids(written.body, scope)) if written else None


def natural_ids(body: str, scope: Scope) -> str:
    """``body`` with every stored id of ``scope``'s rows turned into its natural id (what
    :func:`biotracker.server.visibility.public_id` does for one id): the suffix keeping scopes' rows
    apart is the store's business, and a download names the alert, its incident and its notes as the
    page and the API do. Every row of the slice is from this one scope, so the suffix is one string."""
    suffix = scope.qualify("")
    return body.replace(suffix, "") if suffix else body


def _written(
    engine: Engine,
    scope: Scope,
    row: Mapping,
    public_id: str,
    audience_name: str,
    fmt: ExportFormat,
    now: dt.datetime,
) -> ExportFile | None:
    data = alert_slice(engine, scope, row)
    audience = caller_audience(audience_name, scope)
    if fmt is ExportFormat.JSON:
        _, document = json_document(data, audience)
        return ExportFile(
            f"{public_id}.json", "application/json", json.dumps(document, indent=2, ensure_ascii=False)
        )
    if fmt is ExportFormat.CAP:
        _, messages = cap_messages(data, audience, sent_at=now)
        message = messages.get(row["alert_id"])
        return ExportFile(f"{public_id}.cap.xml", "application/cap+xml", message) if message else None
    if fmt is ExportFormat.STIX:
        _, bundle = stix_bundle(data, audience)
        return ExportFile(f"{public_id}.stix.json", "application/stix+json", bundle.serialize(pretty=True))
    _, shares = shareable_incidents(data, audience)
    if not shares:
        return None
    event = misp_event(shares[0], audience)
    stamp(event, now)
    return ExportFile(
        f"{public_id}.misp.json",
        "application/json",
        json.dumps(feed_document(event), indent=2, ensure_ascii=False),
    )
