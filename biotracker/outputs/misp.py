"""MISP export: a static MISP feed (``manifest.json``, ``hashes.csv``, ``<uuid>.json``) built with PyMISP.

One MISP event per **incident**, not per alert: an incident is the stable thing partners track (its
id survives re-runs, its reports accumulate, its marking follows them), which is what a MISP event
is for; an alert is a weekly episode on a series that points at an incident, so it travels inside
its incident's event as a ``cap-alert`` + ``cap-info`` object pair. Each event holds:

- ``report`` objects (title, source link, excerpt) for the incident's reports the audience may read;
- a ``geolocation`` object (country, region, coordinates when a report gave them);
- ``counter`` attributes for cases and deaths, ``text`` attributes for disease, pathogen and host;
- tags: the marking (``tlp:*``, TLP 2.0), source reliability (``admiralty-scale``), and the
  ``biotracker`` taxonomy (``data/misp-taxonomy/biotracker/machinetag.json``): agent flags, origin
  assessment and its tool, alert tier, unusualness flags.

Distribution follows the marking (:data:`DISTRIBUTION`); RED is never exported, whatever the
audience. Event and object UUIDs are UUIDv5 of Biotracker's stable keys; an event's timestamps
change only when its content does (compared with the event already in the output folder), so
MISP pulls an incident again exactly when it was updated.

What an audience may read is chosen once, by :func:`shareable_incidents` over the one audience
filter (:func:`~biotracker.outputs.audience.deliverable`); a TAXII collection can serve the same
selection.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from typing import Any

from pymisp import MISPEvent, MISPObject, MISPOrganisation, MISPSharingGroup
from sqlalchemy import Engine, select

from biotracker.db.tables import incident_assessments
from biotracker.errors import PublishError
from biotracker.outputs.audience import Audience, Delivery, Item, deliverable
from biotracker.outputs.cap import MSG_TYPE, SENDER, TIER_CAP, TLP_MEANING, cap_time, original_sent
from biotracker.outputs.charts import countries, regions_of
from biotracker.outputs.records import OutputData
from biotracker.outputs.stix import alpha2
from biotracker.schema import AlertStatus, AlertTier, Incident, Tlp, as_utc, most_restrictive
from biotracker.storage import StoragePath

#: UUIDv5 namespace of everything Biotracker puts in a MISP feed.
NAMESPACE = uuid.UUID("0b5c6f1e-2f7a-5e43-8d0c-6d1f4a9b7c21")
TAXONOMY = "biotracker"
TAXONOMY_FILE = "misp-taxonomy/biotracker/machinetag.json"

# MISP distribution levels.
ORGANISATION_ONLY = 0
THIS_COMMUNITY = 1
CONNECTED_COMMUNITIES = 2
ALL_COMMUNITIES = 3
SHARING_GROUP = 4
INHERIT_EVENT = 5

#: Marking -> MISP distribution. AMBER goes to the named sharing group when one is given; AMBER+STRICT
#: stays inside the organisation (TLP 2.0: "restricted to the organisation only"); RED is never exported.
DISTRIBUTION: dict[Tlp, int | None] = {
    Tlp.CLEAR: ALL_COMMUNITIES,
    Tlp.GREEN: THIS_COMMUNITY,
    Tlp.AMBER: ORGANISATION_ONLY,
    Tlp.AMBER_STRICT: ORGANISATION_ONLY,
    Tlp.RED: None,
}
TLP_TAG: dict[Tlp, str] = {
    Tlp.CLEAR: "tlp:clear",
    Tlp.GREEN: "tlp:green",
    Tlp.AMBER: "tlp:amber",
    Tlp.AMBER_STRICT: "tlp:amber+strict",
    Tlp.RED: "tlp:red",
}
#: Tag colours of MISP's ``tlp`` taxonomy, so an instance that does not know a tag yet shows it right.
TLP_COLOUR: dict[Tlp, str] = {
    Tlp.CLEAR: "#ffffff",
    Tlp.GREEN: "#339900",
    Tlp.AMBER: "#FFC000",
    Tlp.AMBER_STRICT: "#FFC000",
    Tlp.RED: "#CC0033",
}
#: Incident source tier (docs/CLUSTERING.md) -> Admiralty source reliability (A completely reliable ... F
#: cannot be judged). Nothing Biotracker reads is "completely reliable" on its own.
SOURCE_RELIABILITY: dict[str, str] = {
    "official": "b",
    "law_enforcement": "b",
    "moderated": "c",
    "media": "d",
    "context": "d",
}
#: MISP threat level by the incident's highest alert tier (1 high, 2 medium, 3 low, 4 undefined).
THREAT_LEVEL: dict[AlertTier | None, int] = {
    AlertTier.CRITICAL: 1,
    AlertTier.HIGH: 1,
    AlertTier.MEDIUM: 2,
    AlertTier.LOW: 3,
    None: 4,
}
#: Cue categories (docs/CUES.md) that tell an accidental origin from a deliberate one.
ACCIDENT_CUES = frozenset({"laboratory", "lab_acquired_infection", "escape_release", "confined_cluster"})
INTENT_CUES = frozenset(
    {"theft_diversion", "smuggling_seizure", "claim_threat", "toxin_production", "agroterrorism", "arrest"}
)
EXCERPT_CHARS = 500
#: MISP requires a creation time on a sharing group in a feed; the receiving instance matches the
#: group by UUID, so a constant keeps re-exports identical.
SHARING_GROUP_CREATED = "2000-01-01 00:00:00"
_CLOSED = {AlertStatus.DISMISSED, AlertStatus.CLOSED}


@dataclass(frozen=True)
class MispOrg:
    """The organisation that creates the events (MISP's ``Orgc``): who partners see as the source."""

    name: str
    uuid: str

    @classmethod
    def named(cls, name: str, org_uuid: str | None = None) -> MispOrg:
        """An organisation; without a UUID, a stable one is derived from the name."""
        return cls(name, str(uuid.UUID(org_uuid)) if org_uuid else str(uuid.uuid5(NAMESPACE, f"org:{name}")))


BIOTRACKER_ORG = MispOrg.named("Biotracker")


def distribution_for(marking: Tlp, sharing_group: str | None = None) -> int:
    """The MISP distribution an event with ``marking`` gets (PublishError for RED: never exported)."""
    level = DISTRIBUTION[marking]
    if level is None:
        raise PublishError(f"{marking} is never exported to MISP: it is for named recipients only")
    if marking == Tlp.AMBER and sharing_group:
        return SHARING_GROUP
    return level


def tag(predicate: str, value: str) -> str:
    return f'{TAXONOMY}:{predicate}="{value}"'


@cache
def taxonomy() -> dict[str, Any]:
    """The ``biotracker`` MISP taxonomy (machinetag.json) shipped with the package."""
    text = resources.files("biotracker.outputs.data").joinpath(TAXONOMY_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def taxonomy_tags() -> frozenset[str]:
    """Every tag the taxonomy defines (``biotracker:predicate="value"``)."""
    return frozenset(
        tag(entry["predicate"], value["value"]) for entry in taxonomy()["values"] for value in entry["entry"]
    )


# --- what an audience may read --------------------------------------------------------------------


@dataclass(frozen=True)
class IncidentShare:
    """One incident with the reports and alerts of it that one audience may read, and its assessment."""

    incident: Item
    reports: tuple[Item, ...] = ()
    alerts: tuple[Item, ...] = ()
    assessment: Mapping[str, Any] | None = None

    @property
    def marking(self) -> Tlp:
        """What the whole share must be marked: the most restrictive of everything in it."""
        return most_restrictive(i.tlp for i in (self.incident, *self.reports, *self.alerts))

    @property
    def record(self) -> Incident:
        return self.incident.incident


def shareable_incidents(data: OutputData, audience: Audience) -> tuple[Delivery[Item], list[IncidentShare]]:
    """The incidents ``audience`` may read, each with its readable reports and alerts (pure).

    Everything passes :func:`deliverable` first; on top of it nothing marked RED is shared with a
    partner system at all (RED is for named individuals, not for a platform). Alerts travel with the
    incident they point to.
    """
    delivery = deliverable(data.items, audience, regions_of=regions_of())
    kept = [i for i in delivery.items if i.tlp != Tlp.RED]
    reports = {i.key: i for i in kept if i.kind == "report"}
    alerts_of: dict[str, list[Item]] = {}
    for item in kept:
        if item.kind == "alert" and item.alert.incident_id:
            alerts_of.setdefault(item.alert.incident_id, []).append(item)
    shares = []
    for item in sorted((i for i in kept if i.kind == "incident"), key=lambda i: i.key):
        inc = item.incident
        shares.append(
            IncidentShare(
                incident=item,
                reports=tuple(reports[r] for r in sorted(inc.report_ids) if r in reports),
                alerts=tuple(sorted(alerts_of.get(inc.incident_id, []), key=lambda i: i.key)),
                assessment=data.assessments.get(inc.incident_id),
            )
        )
    return delivery, shares


# --- tags -----------------------------------------------------------------------------------------


def agent_tags(assessment: Mapping[str, Any] | None) -> list[str]:
    """Agent list memberships; "undetermined" when no listed agent was identified."""
    flags = (assessment or {}).get("agent_flags") or {}
    if not flags:
        return [
            tag(p, "undetermined")
            for p in (
                "select-agent",
                "tier-1",
                "cdc-category",
                "australia-group",
                "woah-listed",
                "who-priority",
            )
        ]

    def yes_no(key: str) -> str:
        return "yes" if flags.get(key) else "no"

    return [
        tag(
            "select-agent", str(flags["select_agent"]).lower() if flags.get("select_agent") else "not-listed"
        ),
        tag("tier-1", yes_no("tier1")),
        tag(
            "cdc-category", str(flags["cdc_category"]).lower() if flags.get("cdc_category") else "not-listed"
        ),
        tag("australia-group", yes_no("australia_group")),
        tag("woah-listed", yes_no("woah_listed")),
        tag("who-priority", yes_no("who_priority")),
    ]


def origin_assessment(assessment: Mapping[str, Any] | None) -> tuple[str, str]:
    """(origin, tool). The Radosavljević screen separates natural from unnatural; cues tell accident
    from intent when it says unnatural, and "undetermined" is said when they do not."""
    if not assessment or not assessment.get("verdict"):
        return "undetermined", "none"
    tool = "radosavljevic-belojevic"
    if str(assessment["verdict"]).startswith("natural"):
        return "natural", tool
    categories = {c.get("category") for c in assessment.get("cues") or []}
    accident, intent = bool(categories & ACCIDENT_CUES), bool(categories & INTENT_CUES)
    if intent and not accident:
        return "deliberate", tool
    if accident and not intent:
        return "accidental", tool
    return "undetermined", tool


def admiralty_tags(incident: Incident) -> list[str]:
    reliability = SOURCE_RELIABILITY.get(incident.source_tier or "", "f")
    corroboration = incident.corroboration
    credibility = "6" if corroboration is None else ("1" if corroboration >= 2 else "3")
    return [
        f'admiralty-scale:source-reliability="{reliability}"',
        f'admiralty-scale:information-credibility="{credibility}"',
    ]


def top_tier(alerts: Iterable[Item]) -> AlertTier | None:
    tiers = [a.alert.tier for a in alerts]
    return min(tiers, key=lambda t: t.rank) if tiers else None


def event_tags(share: IncidentShare) -> list[str]:
    """Every tag of the incident's event: marking, reliability and the biotracker taxonomy."""
    origin, tool = origin_assessment(share.assessment)
    tier = top_tier(share.alerts)
    unusual = sorted(
        {str(f.get("flag", "")).replace("_", "-") for f in (share.assessment or {}).get("unusual") or []}
    )
    tags = [
        TLP_TAG[share.marking],
        *admiralty_tags(share.record),
        *agent_tags(share.assessment),
        tag("origin-assessment", origin),
        tag("origin-assessment-tool", tool),
        tag("alert-tier", tier.value if tier else "none"),
        *(tag("unusual", u) for u in unusual if u),
    ]
    unknown = [t for t in tags if t.startswith(f"{TAXONOMY}:") and t not in taxonomy_tags()]
    if unknown:
        raise PublishError(f"tags {unknown} are not in the biotracker taxonomy: add them to {TAXONOMY_FILE}")
    return tags


# --- one event ------------------------------------------------------------------------------------


def event_uuid(incident_id: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"incident:{incident_id}"))


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "|".join(parts)))


def _object(name: str, key: str, comment: str = "") -> MISPObject:
    obj = MISPObject(name, strict=True, standalone=False)
    obj.uuid = key
    obj.distribution = INHERIT_EVENT
    if comment:
        obj.comment = comment
    return obj


def _add(obj: MISPObject, relation: str, value: object, **kwargs: Any) -> None:
    if value is None or value == "":
        return
    attribute = obj.add_attribute(relation, value=value, **kwargs)
    if attribute is not None:
        attribute.uuid = _uuid(obj.uuid, relation, str(value))
        attribute.distribution = INHERIT_EVENT


def _web(url: str | None) -> str | None:
    return url if url and url.lower().startswith(("http://", "https://")) else None


def _report_object(item: Item, event_id: str) -> MISPObject:
    rep = item.report
    obj = _object(
        "report", _uuid(event_id, "report", rep.report_id), comment=f"biotracker report {rep.report_id}"
    )
    _add(obj, "title", rep.title)
    _add(obj, "link", _web(rep.url))
    excerpt = (rep.summary or rep.text or "").strip()
    _add(obj, "summary", excerpt[:EXCERPT_CHARS] + ("…" if len(excerpt) > EXCERPT_CHARS else ""))
    _add(obj, "type", "Report")
    _add(obj, "case-number", rep.report_id)
    return obj


def _geolocation_object(share: IncidentShare, event_id: str) -> MISPObject | None:
    inc = share.record
    if not inc.country_iso3:
        return None
    reps = [r.report for r in share.reports]
    obj = _object("geolocation", _uuid(event_id, "geolocation", inc.country_iso3))
    shape = countries().get(inc.country_iso3)
    _add(obj, "country", shape.name if shape else inc.country_iso3)
    _add(obj, "countrycode", alpha2(inc.country_iso3) or inc.country_iso3)
    _add(obj, "region", next((r.admin_area for r in reps if r.admin_area), None))
    point = next((r for r in reps if r.lat is not None and r.lon is not None), None)
    if point is not None:
        _add(obj, "latitude", point.lat)
        _add(obj, "longitude", point.lon)
        _add(obj, "spacial-reference", "WGS84 EPSG:4326")
    return obj


def _cap_objects(item: Item, audience: Audience, event_id: str) -> list[MISPObject]:
    """The alert's CAP summary, as the CAP export would send it (cap-alert + cap-info)."""
    alert = item.alert
    marking = item.tlp
    msg_type = MSG_TYPE[alert.status]
    sent = original_sent(alert)
    cap_alert = _object("cap-alert", _uuid(event_id, "cap-alert", alert.alert_id))
    _add(
        cap_alert,
        "identifier",
        alert.alert_id if msg_type == "Alert" else f"{alert.alert_id}.{alert.status.value}",
    )
    _add(cap_alert, "sender", SENDER)
    _add(cap_alert, "sent", cap_time(sent))
    _add(cap_alert, "status", "Actual")
    _add(cap_alert, "msgType", msg_type)
    _add(cap_alert, "source", "Biotracker")
    _add(cap_alert, "scope", "Public" if marking == Tlp.CLEAR else "Restricted")
    if marking != Tlp.CLEAR:
        _add(cap_alert, "restriction", f"{marking}: {TLP_MEANING[marking]}.")
    _add(cap_alert, "code", str(marking))
    info = _object("cap-info", _uuid(event_id, "cap-info", alert.alert_id))
    urgency, severity, certainty = TIER_CAP[alert.tier]
    _add(info, "category", "Health")
    _add(info, "event", f"{alert.disease or 'Unidentified disease'} alert")
    _add(info, "responseType", "AllClear" if msg_type == "Cancel" else "Monitor")
    _add(info, "urgency", urgency)
    _add(info, "severity", severity)
    _add(info, "certainty", certainty)
    _add(info, "audience", f"{audience.name}, cleared for {audience.clearance}")
    _add(info, "effective", cap_time(as_utc(alert.period_start)))
    _add(info, "senderName", "Biotracker early warning")
    _add(info, "headline", alert.headline[:160])
    _add(info, "description", "\n".join(alert.reasons))
    _add(info, "web", next((u for u in alert.source_urls if _web(u)), None))
    _add(info, "language", "en")
    _add(info, "parameter", f"biotracker:tier={alert.tier.value}")
    reference = cap_alert.add_reference(info.uuid, "includes")
    reference.uuid = _uuid(cap_alert.uuid, "includes", info.uuid)
    return [cap_alert, info]


def misp_event(
    share: IncidentShare,
    audience: Audience,
    *,
    org: MispOrg = BIOTRACKER_ORG,
    sharing_group: str | None = None,
) -> MISPEvent:
    """The MISP event of one shareable incident (pure; timestamps are set by :func:`stamp`)."""
    inc = share.record
    marking = share.marking
    event = MISPEvent()
    event.uuid = event_uuid(inc.incident_id)
    event.info = inc.title
    first = inc.first_seen_at or inc.last_seen_at
    event.set_date(as_utc(first).date() if first else dt.date(2000, 1, 1))
    tier = top_tier(share.alerts)
    event.threat_level_id = THREAT_LEVEL[tier]
    closed = bool(share.alerts) and all(a.alert.status in _CLOSED for a in share.alerts)
    event.analysis = 2 if closed else 1
    event.published = True
    event.distribution = distribution_for(marking, sharing_group)
    orgc = MISPOrganisation()
    orgc.from_dict(name=org.name, uuid=org.uuid)
    event.Orgc = orgc
    if event.distribution == SHARING_GROUP:
        group = MISPSharingGroup()
        group.from_dict(
            name=sharing_group,
            uuid=_uuid("sharing-group", str(sharing_group)),
            releasability=f"{marking}: {TLP_MEANING[marking]}",
            roaming=False,
            created=SHARING_GROUP_CREATED,
            organisation_uuid=org.uuid,
            Organisation={"name": org.name, "uuid": org.uuid},
            SharingGroupOrg=[],
            SharingGroupServer=[],
        )
        event.SharingGroup = group
    colours = {TLP_TAG[m]: c for m, c in TLP_COLOUR.items()}
    for name in event_tags(share):
        event.add_tag(name=name, **({"colour": colours[name]} if name in colours else {}))

    # pymisp types add_attribute as MISPAttribute | list (a list value gives several); ours are single.
    for relation, value in (("disease", inc.disease), ("pathogen", inc.pathogen), ("host", inc.host)):
        if value:
            attr = event.add_attribute("text", value, category="Other", comment=relation, to_ids=False)
            attr.uuid = _uuid(event.uuid, relation)  # type: ignore[union-attr]
            attr.distribution = INHERIT_EVENT  # type: ignore[union-attr]
    for relation, count in (("cases", inc.cases), ("deaths", inc.deaths)):
        if count is not None:
            attr = event.add_attribute(
                "counter", str(count), category="Other", comment=relation, to_ids=False
            )
            attr.uuid = _uuid(event.uuid, relation)  # type: ignore[union-attr]
            attr.distribution = INHERIT_EVENT  # type: ignore[union-attr]
    link = event.add_attribute(
        "text", inc.incident_id, category="Other", comment="biotracker incident", to_ids=False
    )
    link.uuid = _uuid(event.uuid, "incident_id")  # type: ignore[union-attr]
    link.distribution = INHERIT_EVENT  # type: ignore[union-attr]

    place = _geolocation_object(share, event.uuid)
    if place is not None:
        event.add_object(place)
    for item in share.reports:
        report = _report_object(item, event.uuid)
        if place is not None:
            ref = report.add_reference(place.uuid, "located-at")
            ref.uuid = _uuid(report.uuid, "located-at", place.uuid)
        event.add_object(report)
    for item in share.alerts:
        for obj in _cap_objects(item, audience, event.uuid):
            event.add_object(obj)
    for obj in event.objects:
        obj._validate()  # the object's template: required attributes present, no repeats it forbids
    return event


def stamp(event: MISPEvent, moment: dt.datetime) -> None:
    """Set every timestamp of the event (event, attributes, objects, references) to ``moment``."""
    event.timestamp = moment
    event.publish_timestamp = moment
    for attribute in event.attributes:
        attribute.timestamp = moment
    for obj in event.objects:
        obj.timestamp = moment
        for attribute in obj.attributes:
            attribute.timestamp = moment
        for reference in obj.references:
            reference.timestamp = moment.timestamp()  # PyMISP types a reference's timestamp as a float


def feed_document(event: MISPEvent) -> dict[str, Any]:
    """The event as it goes into ``<uuid>.json`` (MISP feed format, with distribution)."""
    return event.to_feed(with_distribution=True)


_TIMESTAMP_KEYS = {"timestamp", "publish_timestamp"}


def _without_timestamps(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {k: _without_timestamps(v) for k, v in doc.items() if k not in _TIMESTAMP_KEYS}
    if isinstance(doc, list):
        return [_without_timestamps(v) for v in doc]
    return doc


def same_content(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Two feed documents say the same thing (timestamps aside)."""
    return _without_timestamps(a) == _without_timestamps(b)


# --- the feed -------------------------------------------------------------------------------------


@dataclass
class MispFeed:
    """Events by UUID with their feed documents, manifest and attribute hashes, ready to write."""

    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    manifest: dict[str, dict[str, Any]] = field(default_factory=dict)
    hashes: list[tuple[str, str]] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    #: The most restrictive marking in the feed, and how many records the audience could not have.
    marking: Tlp = Tlp.CLEAR
    withheld: int = 0

    def counts(self) -> dict[str, int]:
        events = [d["Event"] for d in self.documents.values()]
        return {
            "events": len(events),
            "objects": sum(len(e.get("Object", [])) for e in events),
            "attributes": sum(
                len(e.get("Attribute", [])) + sum(len(o.get("Attribute", [])) for o in e.get("Object", []))
                for e in events
            ),
            "tags": sum(len(e.get("Tag", [])) for e in events),
        }


def misp_feed(
    data: OutputData,
    audience: Audience,
    *,
    now: dt.datetime,
    previous: Mapping[str, Mapping[str, Any]] | None = None,
    org: MispOrg = BIOTRACKER_ORG,
    sharing_group: str | None = None,
) -> tuple[Delivery[Item], MispFeed]:
    """The feed for ``audience``. ``previous`` holds the documents of the last export by UUID: an
    event whose content is unchanged keeps its timestamps; a new or changed one is stamped ``now``."""
    delivery, shares = shareable_incidents(data, audience)
    feed = MispFeed(
        marking=most_restrictive((s.marking for s in shares), default=Tlp.CLEAR),
        withheld=delivery.withheld + sum(1 for i in delivery.items if i.tlp == Tlp.RED),
    )
    for share in shares:
        event = misp_event(share, audience, org=org, sharing_group=sharing_group)
        stamp(event, as_utc(now))
        doc = feed_document(event)
        before = (previous or {}).get(event.uuid)
        if before is not None and same_content(before, doc):
            stamp(event, dt.datetime.fromtimestamp(int(before["Event"]["timestamp"]), dt.UTC))
            doc = feed_document(event)
        else:
            feed.changed.append(event.uuid)
        if TLP_TAG[Tlp.RED] in {t["name"] for t in doc["Event"].get("Tag", [])}:
            raise PublishError(
                f"event {event.uuid} is marked TLP:RED; RED is never exported (a bug: report it)"
            )
        feed.documents[event.uuid] = doc
        feed.manifest.update(event.manifest)
        feed.hashes += [(h, event.uuid) for h in event.attributes_hashes("md5")]
    return delivery, feed


@dataclass(frozen=True)
class MispExport:
    directory: StoragePath
    counts: dict[str, int]
    changed: int
    marking: Tlp
    withheld: int

    def summary(self) -> dict[str, object]:
        return {
            "directory": str(self.directory),
            **self.counts,
            "changed": self.changed,
            "tlp": self.marking.value,
            "withheld": self.withheld,
        }


def read_feed(directory: StoragePath) -> dict[str, dict[str, Any]]:
    """The event documents of an earlier export in ``directory`` (by UUID, from its manifest)."""
    try:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    documents = {}
    for event_id in manifest:
        try:
            documents[event_id] = json.loads((directory / f"{event_id}.json").read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            continue  # a missing or broken file: the event is simply written anew
    return documents


def export_misp(
    data: OutputData,
    audience: Audience,
    directory: StoragePath,
    *,
    now: dt.datetime,
    org: MispOrg = BIOTRACKER_ORG,
    sharing_group: str | None = None,
) -> MispExport:
    """Write the MISP feed for ``audience`` into ``directory``.

    Events of an earlier export that are no longer deliverable (re-marked, narrower audience) are
    removed, so nothing lingers in a folder a MISP instance pulls from.
    """
    previous = read_feed(directory)
    _, feed = misp_feed(data, audience, now=now, previous=previous, org=org, sharing_group=sharing_group)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in set(previous) - set(feed.documents):
        (directory / f"{stale}.json").unlink(missing_ok=True)
    for event_id, doc in feed.documents.items():
        (directory / f"{event_id}.json").write_text(
            json.dumps(doc, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8"
        )
    (directory / "manifest.json").write_text(
        json.dumps(feed.manifest, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8"
    )
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(sorted(feed.hashes))
    (directory / "hashes.csv").write_text(buffer.getvalue(), encoding="utf-8")
    return MispExport(directory, feed.counts(), len(feed.changed), feed.marking, feed.withheld)


def with_all_assessments(data: OutputData, engine: Engine) -> OutputData:
    """``data`` with the risk-lens assessment of every incident, not only of those behind an alert:
    every exported event carries its agent flags and origin assessment."""
    ids = [i.key for i in data.incidents]
    found: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        for start in range(0, len(ids), 500):
            rows = conn.execute(
                select(incident_assessments).where(
                    incident_assessments.c.incident_id.in_(ids[start : start + 500])
                )
            ).mappings()
            found.update({r["incident_id"]: dict(r) for r in rows})
    return replace(data, assessments={**found, **data.assessments})
