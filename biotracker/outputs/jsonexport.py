"""JSON export of alerts, incidents and analysts' notes for other tools: one document, records as in the schema.

Each record's ``tlp`` is the marking the audience filter enforced (its declared marking, raised to
what it was built from and, for law-enforcement intake, to AMBER+STRICT); the document's ``tlp`` is
the most restrictive of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from biotracker.outputs.audience import AnalystNote, Audience, Delivery, Item, deliverable
from biotracker.outputs.charts import regions_of
from biotracker.outputs.records import OutputData
from biotracker.schema import SCHEMA_VERSION, Tlp
from biotracker.storage import StoragePath

FORMAT = "biotracker-export"
FORMAT_VERSION = 1


def _record(item: Item) -> dict:
    record = item.record
    if isinstance(record, AnalystNote):
        raise TypeError(f"analyst note {record.note_id} is not a schema record; export it with _note")
    return {**record.model_dump(mode="json"), "tlp": item.tlp.value}


def _note(item: Item) -> dict:
    n = item.record
    if not isinstance(n, AnalystNote):
        raise TypeError(f"{type(n).__name__} is not an analyst note; export it with _record")
    return {
        "note_id": n.note_id,
        "alert_id": n.alert_id,
        "actor": n.actor,
        "at": n.at.isoformat(),
        "what": n.what,
        "text": n.text,
        "tlp": item.tlp.value,
    }


def json_document(data: OutputData, audience: Audience) -> tuple[Delivery[Item], dict]:
    """The export document for ``audience`` (pure)."""
    delivery = deliverable([*data.alerts, *data.incidents, *data.notes], audience, regions_of=regions_of())
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "schema_version": SCHEMA_VERSION,
        "tlp": delivery.marking.value,
        "audience": {"name": audience.name, "clearance": audience.clearance.value, "kind": audience.kind},
        "alerts": [_record(i) for i in sorted(delivery.of_kind("alert"), key=lambda i: i.key)],
        "incidents": [_record(i) for i in sorted(delivery.of_kind("incident"), key=lambda i: i.key)],
        "notes": [_note(i) for i in delivery.of_kind("analystnote")],
    }
    return delivery, document


@dataclass(frozen=True)
class JsonExport:
    path: StoragePath
    alerts: int
    incidents: int
    marking: Tlp
    withheld: int

    def summary(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "alerts": self.alerts,
            "incidents": self.incidents,
            "tlp": self.marking.value,
            "withheld": self.withheld,
        }


def export_json(data: OutputData, audience: Audience, path: StoragePath) -> JsonExport:
    delivery, document = json_document(data, audience)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return JsonExport(
        path, len(document["alerts"]), len(document["incidents"]), delivery.marking, delivery.withheld
    )
