"""CAP 1.2 export: one OASIS Common Alerting Protocol message per alert, for partner agencies' systems.

Mapping (documented in docs/OUTPUTS.md):
- ``msgType`` follows the alert's lifecycle: new -> Alert; triaged/escalated -> Update; dismissed/closed
  -> Cancel. Updates and cancels reference the original Alert message (``sender,identifier,sent``).
- ``scope``: Public only for a non-law-enforcement audience and a TLP:CLEAR message; otherwise
  Restricted (``restriction`` states the TLP marking and audience) or, when the audience has a
  delivery address, Private (``addresses``).
- ``info``: category Health; urgency / severity / certainty from the tier (``TIER_CAP``); ``area``
  names the country and carries its ISO 3166-1 alpha-3 code as a geocode.
Every message is validated against the bundled OASIS CAP 1.2 XSD before it is written.
"""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from biotracker.errors import PublishError
from biotracker.outputs.audience import Audience, Delivery, Item, deliverable
from biotracker.outputs.charts import countries, regions_of
from biotracker.outputs.records import OutputData
from biotracker.schema import Alert, AlertStatus, AlertTier, Tlp, as_utc
from biotracker.storage import StoragePath

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
SENDER = "biotracker@localhost"
#: tier -> (urgency, severity, certainty)
TIER_CAP: dict[AlertTier, tuple[str, str, str]] = {
    AlertTier.CRITICAL: ("Immediate", "Extreme", "Likely"),
    AlertTier.HIGH: ("Expected", "Severe", "Likely"),
    AlertTier.MEDIUM: ("Future", "Moderate", "Possible"),
    AlertTier.LOW: ("Future", "Minor", "Possible"),
}
MSG_TYPE: dict[AlertStatus, str] = {
    AlertStatus.NEW: "Alert",
    AlertStatus.TRIAGED: "Update",
    AlertStatus.ESCALATED: "Update",
    AlertStatus.DISMISSED: "Cancel",
    AlertStatus.CLOSED: "Cancel",
}
TLP_MEANING = {
    Tlp.CLEAR: "disclosure is not limited",
    Tlp.GREEN: "limited disclosure, restricted to the community",
    Tlp.AMBER: "limited disclosure, restricted to participants' organisations and their clients",
    Tlp.AMBER_STRICT: "limited disclosure, restricted to participants' organisation",
    Tlp.RED: "for the eyes and ears of individual recipients only",
}
FILE_SUFFIX = ".cap.xml"


@lru_cache(maxsize=1)
def cap_schema():
    import xmlschema

    with resources.as_file(resources.files("biotracker.outputs.data").joinpath("CAP-v1.2.xsd")) as xsd:
        return xmlschema.XMLSchema(str(xsd))


def validate_cap(document: str | bytes) -> None:
    """Raise ``xmlschema.XMLSchemaValidationError`` unless ``document`` is a valid CAP 1.2 message."""
    import defusedxml.ElementTree as SafeET

    cap_schema().validate(SafeET.fromstring(document))


def cap_time(moment: dt.datetime) -> str:
    """CAP's dateTime form: seconds precision and an explicit offset ("2024-06-17T00:00:00+00:00")."""
    return as_utc(moment).replace(microsecond=0).isoformat()


def original_sent(alert: Alert) -> dt.datetime:
    """When the first message about an alert goes out: the end of its week (when the digest lists it)."""
    return as_utc(alert.period_start + dt.timedelta(days=7))


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    if text is not None:
        el.text = text
    return el


def cap_message(
    item: Item, audience: Audience, *, sender: str = SENDER, sent_at: dt.datetime | None = None
) -> str:
    """One CAP 1.2 message (XML text) for one alert item, marked with the item's TLP."""
    alert = item.alert
    marking = item.tlp
    msg_type = MSG_TYPE[alert.status]
    first_sent = original_sent(alert)
    sent = first_sent if msg_type == "Alert" or sent_at is None else max(first_sent, as_utc(sent_at))
    identifier = alert.alert_id if msg_type == "Alert" else f"{alert.alert_id}.{alert.status.value}"

    ET.register_namespace("", CAP_NS)
    root = ET.Element(f"{{{CAP_NS}}}alert")
    _sub(root, "identifier", identifier)
    _sub(root, "sender", sender)
    _sub(root, "sent", cap_time(sent))
    _sub(root, "status", "Actual")
    _sub(root, "msgType", msg_type)
    _sub(root, "source", "Biotracker")
    if marking == Tlp.CLEAR and not audience.law_enforcement:
        _sub(root, "scope", "Public")
    elif audience.email:
        _sub(root, "scope", "Private")
        _sub(root, "addresses", audience.email if " " not in audience.email else f'"{audience.email}"')
    else:
        _sub(root, "scope", "Restricted")
        _sub(
            root,
            "restriction",
            f"{marking}: {TLP_MEANING[marking]}. Audience: {audience.name} "
            f"({audience.kind.replace('_', ' ')}).",
        )
    _sub(root, "code", str(marking))
    if msg_type != "Alert":
        _sub(root, "note", f"alert status changed to {alert.status.value}")
        _sub(root, "references", f"{sender},{alert.alert_id},{cap_time(first_sent)}")

    info = _sub(root, "info")
    _sub(info, "language", "en")
    _sub(info, "category", "Health")
    _sub(info, "event", f"{alert.disease or 'Unidentified disease'} alert")
    _sub(info, "responseType", "Monitor" if msg_type != "Cancel" else "AllClear")
    urgency, severity, certainty = TIER_CAP[alert.tier]
    _sub(info, "urgency", urgency)
    _sub(info, "severity", severity)
    _sub(info, "certainty", certainty)
    _sub(info, "audience", f"{audience.name}, cleared for {audience.clearance}")
    _sub(info, "effective", cap_time(as_utc(alert.period_start)))
    _sub(info, "senderName", "Biotracker early warning")
    _sub(info, "headline", alert.headline[:160])
    _sub(info, "description", "\n".join(alert.reasons))
    web = next((u for u in alert.source_urls if u.lower().startswith(("http://", "https://"))), None)
    if web:
        _sub(info, "web", web)
    for name, value in (
        ("biotracker:alert_id", alert.alert_id),
        ("biotracker:tier", alert.tier.value),
        ("TLP", marking.value),
        ("biotracker:week", alert.period_start.isoformat()),
    ):
        param = _sub(info, "parameter")
        _sub(param, "valueName", name)
        _sub(param, "value", value)
    area = _sub(info, "area")
    country = countries().get(alert.country_iso3 or "")
    _sub(area, "areaDesc", country.name if country else (alert.country_iso3 or "Location not determined"))
    if alert.country_iso3:
        geocode = _sub(area, "geocode")
        _sub(geocode, "valueName", "ISO 3166-1 alpha-3")
        _sub(geocode, "value", alert.country_iso3)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=False)


@dataclass(frozen=True)
class CapExport:
    directory: StoragePath
    files: tuple[StoragePath, ...]
    marking: Tlp
    withheld: int

    def summary(self) -> dict[str, object]:
        return {
            "directory": str(self.directory),
            "messages": len(self.files),
            "tlp": self.marking.value,
            "withheld": self.withheld,
        }


def cap_messages(
    data: OutputData, audience: Audience, *, sender: str = SENDER, sent_at: dt.datetime | None = None
) -> tuple[Delivery[Item], dict[str, str]]:
    """The deliverable alerts for ``audience`` and their CAP messages by alert id (pure)."""
    delivery = deliverable(data.alerts, audience, regions_of=regions_of())
    return delivery, {i.key: cap_message(i, audience, sender=sender, sent_at=sent_at) for i in delivery.items}


def export_cap(
    data: OutputData,
    audience: Audience,
    directory: StoragePath,
    *,
    sender: str = SENDER,
    sent_at: dt.datetime | None = None,
) -> CapExport:
    """Write ``<alert_id>.cap.xml`` per deliverable alert and ``MANIFEST.json`` (with the export's TLP).

    Messages this directory held from an earlier export are removed first, so an alert that is no
    longer deliverable (re-marked, or a narrower audience) cannot linger there.
    """
    delivery, messages = cap_messages(data, audience, sender=sender, sent_at=sent_at)
    for message in messages.values():
        try:
            validate_cap(message)
        except Exception as exc:  # a bug in the mapping: never ship an invalid message
            raise PublishError(f"CAP message failed the CAP 1.2 schema, nothing written: {exc}") from exc
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob(f"*{FILE_SUFFIX}"):
        stale.unlink()
    files = []
    for alert_id, message in sorted(messages.items()):
        path = directory / f"{alert_id}{FILE_SUFFIX}"
        path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n' + message + "\n", encoding="utf-8")
        files.append(path)
    (directory / "MANIFEST.json").write_text(
        json.dumps(
            {
                "format": "CAP 1.2",
                "audience": audience.name,
                "tlp": str(delivery.marking),
                "messages": [p.name for p in files],
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    return CapExport(directory, tuple(files), delivery.marking, delivery.withheld)
