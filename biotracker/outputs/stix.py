"""STIX 2.1 export: incidents, reports, locations and alert notes as one bundle, built with ``stix2``.

Every object carries the official TLP 2.0 marking definition (OASIS CTI TC, extension
``extension-definition--60a3c5c5-…``) of the record it comes from, and the bundle embeds the
definitions it uses. Identifiers are UUIDv5 of Biotracker's stable keys, so exporting the same data
twice yields the same objects.

Alerts become ``note`` objects ("why this is an alert": reasons, tier, week) attached to their
incident; what analysts wrote about an alert (a status change with a note, relevance feedback)
becomes a ``note`` by that analyst, attached to the alert's note.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from dataclasses import dataclass

import pycountry
import stix2

from biotracker.outputs.audience import Audience, Delivery, Item, deliverable
from biotracker.outputs.charts import countries, regions_of
from biotracker.outputs.records import OutputData
from biotracker.schema import Tlp, as_utc
from biotracker.storage import StoragePath

TLP2_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
#: The official TLP 2.0 marking-definition ids (cti-stix-common-objects, tlp-2.0 extension).
TLP2_IDS: dict[Tlp, str] = {
    Tlp.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    Tlp.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    Tlp.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    Tlp.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    Tlp.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
_NAMESPACE = uuid.UUID("6f1f7c53-3c3b-5d5e-9a43-0b1f2c8a7e11")
_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def tlp_marking(marking: Tlp) -> stix2.v21.MarkingDefinition:
    return stix2.v21.MarkingDefinition(
        id=TLP2_IDS[marking],
        created="2022-10-01T00:00:00.000Z",
        name=str(marking),
        extensions={
            TLP2_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": marking.value.lower()}
        },
    )


def stix_id(kind: str, key: str) -> str:
    """A deterministic identifier in UUIDv4 form (STIX 2.1 asks SDO/SRO ids to be v4): the version
    and variant bits are set on a SHA-256 of the stable key, so re-exports give the same ids."""
    digest = hashlib.sha256(f"{_NAMESPACE}:{kind}:{key}".encode()).digest()
    return f"{kind}--{uuid.UUID(bytes=digest[:16], version=4)}"


IDENTITY = stix2.v21.Identity(
    id=stix_id("identity", "biotracker"),
    name="Biotracker",
    identity_class="system",
    created=_EPOCH,
    modified=_EPOCH,
    object_marking_refs=[TLP2_IDS[Tlp.CLEAR]],
)


_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")


def language_tag(value: str | None) -> str | None:
    """An RFC 5646 tag for STIX ``lang``: the value if it is one, else looked up by name ("English" -> "en")."""
    if not value:
        return None
    if _LANGUAGE_TAG.match(value):
        return value
    try:
        language = pycountry.languages.lookup(value)
    except LookupError:
        return None
    return getattr(language, "alpha_2", None) or getattr(language, "alpha_3", None)


def alpha2(iso3: str) -> str | None:
    country = pycountry.countries.get(alpha_3=iso3)
    return country.alpha_2 if country else None


def _times(first: dt.datetime | None, last: dt.datetime | None) -> tuple[dt.datetime, dt.datetime]:
    created = as_utc(first) if first else (as_utc(last) if last else _EPOCH)
    modified = max(created, as_utc(last)) if last else created
    return created, modified


def _common(item: Item) -> dict:
    return {"created_by_ref": IDENTITY.id, "object_marking_refs": [TLP2_IDS[item.tlp]]}


@dataclass(frozen=True)
class StixExport:
    path: StoragePath | None
    objects: dict[str, int]
    marking: Tlp
    withheld: int

    def summary(self) -> dict[str, object]:
        return {
            "path": str(self.path) if self.path else None,
            "objects": self.objects,
            "tlp": self.marking.value,
            "withheld": self.withheld,
        }


def stix_bundle(data: OutputData, audience: Audience) -> tuple[Delivery[Item], stix2.v21.Bundle]:
    """The bundle of everything ``audience`` may receive (pure)."""
    delivery = deliverable(data.items, audience, regions_of=regions_of())
    objects: list = [IDENTITY]
    locations: dict[str, str] = {}

    def location_for(iso3: str | None) -> str | None:
        if not iso3:
            return None
        if iso3 not in locations:
            shape = countries().get(iso3)
            code = alpha2(iso3)
            if code is None:
                return None
            loc = stix2.v21.Location(
                id=stix_id("location", iso3),
                name=shape.name if shape else iso3,
                country=code,
                created=_EPOCH,
                modified=_EPOCH,
                created_by_ref=IDENTITY.id,
                object_marking_refs=[TLP2_IDS[Tlp.CLEAR]],
            )
            objects.append(loc)
            locations[iso3] = loc.id
        return locations[iso3]

    incident_ids: dict[str, str] = {}
    for item in delivery.of_kind("incident"):
        inc = item.incident
        created, modified = _times(inc.first_seen_at, inc.last_seen_at)
        counts = ", ".join(
            f"{n} {what}" for n, what in ((inc.cases, "case(s)"), (inc.deaths, "death(s)")) if n is not None
        )
        obj = stix2.v21.Incident(
            id=stix_id("incident", inc.incident_id),
            name=inc.title,
            created=created,
            modified=modified,
            description=f"{inc.disease or 'unidentified disease'} in {inc.country_iso3 or 'an undetermined country'}"
            f"{' (host: ' + inc.host + ')' if inc.host else ''}{'; ' + counts if counts else ''}.",
            external_references=[{"source_name": "biotracker", "external_id": inc.incident_id}],
            **_common(item),
        )
        objects.append(obj)
        incident_ids[inc.incident_id] = obj.id
        loc = location_for(inc.country_iso3)
        if loc:
            objects.append(
                stix2.v21.Relationship(
                    id=stix_id("relationship", f"{inc.incident_id}|related-to|{inc.country_iso3}"),
                    relationship_type="related-to",
                    source_ref=obj.id,
                    target_ref=loc,
                    created=created,
                    modified=modified,
                    **_common(item),
                )
            )

    incidents_of: dict[str, set[str]] = {}
    for item in delivery.of_kind("incident"):
        for rid in item.incident.report_ids:
            incidents_of.setdefault(rid, set()).add(item.key)
    for item in delivery.of_kind("report"):
        rep = item.report
        published = as_utc(rep.published_at or rep.observed_at or _EPOCH)
        refs = [incident_ids[i] for i in sorted(incidents_of.get(rep.report_id, ())) if i in incident_ids]
        loc = location_for(rep.country_iso3)
        refs += [loc] if loc else []
        ext = {"source_name": rep.source, "external_id": rep.source_id}
        if rep.url and rep.url.lower().startswith(("http://", "https://")):
            ext["url"] = rep.url
        objects.append(
            stix2.v21.Report(
                id=stix_id("report", rep.report_id),
                name=rep.title,
                published=published,
                created=published,
                modified=published,
                report_types=["threat-report"],
                object_refs=refs or [IDENTITY.id],
                description=rep.summary or None,
                lang=language_tag(rep.language),
                external_references=[ext],
                **_common(item),
            )
        )

    for item in delivery.of_kind("alert"):
        alert = item.alert
        when = as_utc(alert.period_start + dt.timedelta(days=7))
        refs = [incident_ids[alert.incident_id]] if alert.incident_id in incident_ids else []
        loc = location_for(alert.country_iso3)
        refs += [loc] if loc else []
        objects.append(
            stix2.v21.Note(
                id=stix_id("note", alert.alert_id),
                created=when,
                modified=when,
                abstract=f"Why this is an alert ({alert.tier.value}, week of {alert.period_start.isoformat()}): "
                f"{alert.headline}"[:500],
                content="\n".join(alert.reasons),
                authors=["Biotracker alert rules"],
                object_refs=refs or [IDENTITY.id],
                labels=[f"tier:{alert.tier.value}", f"status:{alert.status.value}"],
                **_common(item),
            )
        )

    note_refs = {i.key: stix_id("note", i.key) for i in delivery.of_kind("alert")}
    for item in delivery.of_kind("analystnote"):
        note = item.note
        at = as_utc(note.at)
        refs = [note_refs[note.alert_id]] if note.alert_id in note_refs else [IDENTITY.id]
        objects.append(
            stix2.v21.Note(
                id=stix_id("note", note.note_id),
                created=at,
                modified=at,
                abstract=f"Analyst note on alert {note.alert_id} ({note.what})"[:500],
                content=note.text or note.what,
                authors=[note.actor],
                object_refs=refs,
                labels=["analyst-note"],
                **_common(item),
            )
        )

    used = sorted({m for o in objects for m in getattr(o, "object_marking_refs", [])})
    markings = [tlp_marking(t) for t, mid in TLP2_IDS.items() if mid in used]
    content_key = "|".join(
        sorted(f"{o.id}@{o.modified}" if hasattr(o, "modified") else o.id for o in objects)
    )
    bundle = stix2.v21.Bundle(*markings, *objects, id=stix_id("bundle", f"{audience.name}|{content_key}"))
    return delivery, bundle


def export_stix(data: OutputData, audience: Audience, path: StoragePath) -> StixExport:
    delivery, bundle = stix_bundle(data, audience)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = json.loads(bundle.serialize())  # stix2's pretty=True is quadratic in the bundle size
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    counts: dict[str, int] = {}
    for obj in document["objects"]:
        counts[obj["type"]] = counts.get(obj["type"], 0) + 1
    return StixExport(path, counts, delivery.marking, delivery.withheld)
