"""MISP static feeds as a source: a partner's ``manifest.json`` and its ``<uuid>.json`` events.

A connector for one partner feed subclasses :class:`MispFeedConnector` and sets ``url`` (the
manifest's address), ``clearance`` and the usual facts. Fetching reads the manifest, then each
event it lists whose ``timestamp`` is at or after the window's start (an event the partner updated
later has a later timestamp, so it is fetched again then). Each event becomes one report, with
the event's originating organisation (``Orgc``) and its TLP marking.

Markings are enforced twice: an event the manifest tags with a marking stricter than
``clearance`` is never requested (the manifest entry is quarantined with the reason, so nothing
is dropped silently), and an event whose own tags are stricter is refused by ``to_report`` and
quarantined. Events without a TLP tag take the connector's default ``tlp``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import urljoin

import pycountry

from biotracker.errors import RecordError
from biotracker.ingest.connector import BadRecord, Connector, decode_text
from biotracker.ingest.html_text import html_to_text
from biotracker.schema import Report, Tlp, Window

MANIFEST = "manifest.json"
#: Plain attributes that carry Biotracker's incident fields, by their comment.
TEXT_FIELDS = ("disease", "pathogen", "host")
COUNT_FIELDS = ("cases", "deaths")


def tag_names(tags: Any) -> list[str]:
    return [str(t.get("name", "")) for t in tags or [] if isinstance(t, dict)]


def marking_of(tags: Any) -> Tlp | None:
    """The most restrictive ``tlp:*`` tag (TLP 1.0 ``tlp:white`` reads as CLEAR); None without one."""
    found = []
    for name in tag_names(tags):
        if name.lower().startswith("tlp:"):
            try:
                found.append(Tlp.parse(name))
            except ValueError:
                continue  # tlp:ex:chr and other non-colour tags
    return max(found, key=lambda m: m.rank) if found else None


def _epoch(value: Any, what: str) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(int(value), dt.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise RecordError(f"{what} {str(value)[:40]!r} is not a Unix timestamp") from None


def _objects(event: dict[str, Any], name: str) -> list[dict[str, str]]:
    """Each object called ``name`` as {object_relation: first value}."""
    found = []
    for obj in event.get("Object") or []:
        if isinstance(obj, dict) and obj.get("name") == name:
            values: dict[str, str] = {}
            for attr in obj.get("Attribute") or []:
                values.setdefault(str(attr.get("object_relation")), str(attr.get("value", "")))
            found.append(values)
    return found


def _iso3(code: str | None) -> str | None:
    if not code:
        return None
    country = pycountry.countries.get(alpha_2=code.upper()) or pycountry.countries.get(alpha_3=code.upper())
    return country.alpha_3 if country else None


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


class MispFeedConnector(Connector):
    """A partner's MISP static feed; one report per event."""

    primary_key = ("uuid",)
    cursor_field = "timestamp"
    #: The most restrictive marking this deployment may hold from the partner; stricter events are refused.
    clearance: ClassVar[Tlp] = Tlp.AMBER
    #: A feed lists every event it holds; one fetch may request many of them.
    max_pages: ClassVar[int] = 5000
    #: An unchanged event (HTTP 304) says nothing about the next one the manifest lists.
    independent_pages: ClassVar[bool] = True
    required_fields: ClassVar[tuple[str, ...]] = ("uuid", "info", "date", "timestamp", "Orgc")

    def __init__(self) -> None:
        self._queue: list[str] = []

    # --- fetching -----------------------------------------------------------------------------
    def event_url(self, event_uuid: str) -> str:
        return urljoin(self.url, f"{event_uuid}.json")

    def refusal(self, tags: Any) -> str | None:
        marking = marking_of(tags) or self.tlp
        if marking.rank > self.clearance.rank:
            return f"marked {marking}, stricter than this connector's clearance {self.clearance}: refused"
        return None

    def wanted(self, manifest: dict[str, Any], window: Window) -> list[str]:
        """Event UUIDs to fetch: updated since the window's start and within the clearance."""
        chosen = []
        for event_uuid, entry in sorted(manifest.items()):
            if not isinstance(entry, dict) or self.refusal(entry.get("Tag")):
                continue
            try:
                if _epoch(entry.get("timestamp"), "timestamp") < window.start:
                    continue
            except RecordError:
                pass  # unreadable timestamp: fetch it; normalisation says what is wrong with it
            chosen.append(event_uuid)
        return chosen

    def next_url(self, body: bytes, url: str, window: Window) -> str | None:
        if url == self.url:
            try:
                manifest = json.loads(decode_text(body))
            except (RecordError, json.JSONDecodeError):
                return None  # normalisation quarantines the unreadable manifest
            self._queue = (
                [self.event_url(u) for u in self.wanted(manifest, window)]
                if isinstance(manifest, dict)
                else []
            )
        return self._queue.pop(0) if self._queue else None

    def cursor(self, record: dict[str, Any]) -> dt.datetime | None:
        try:
            return _epoch(record.get("timestamp"), "timestamp")
        except RecordError:
            return None

    # --- parsing ------------------------------------------------------------------------------
    def records(self, body: bytes) -> Iterator[dict[str, Any] | BadRecord]:
        """An event document yields its event; the manifest yields only the entries it refuses."""
        try:
            doc = json.loads(decode_text(body))
        except json.JSONDecodeError as exc:
            raise RecordError(f"payload is not valid JSON ({exc.msg} at line {exc.lineno})") from exc
        if not isinstance(doc, dict):
            raise RecordError("payload is neither a MISP event nor a feed manifest (not a JSON object)")
        if "Event" in doc:
            event = doc["Event"]
            if not isinstance(event, dict):
                yield BadRecord("Event", "the Event member is not an object", repr(event)[:500])
                return
            yield event
            return
        for event_uuid, entry in sorted(doc.items()):
            if not isinstance(entry, dict):
                yield BadRecord(
                    f"manifest {event_uuid}", "manifest entry is not an object", repr(entry)[:200]
                )
                continue
            reason = self.refusal(entry.get("Tag"))
            if reason:
                org = (entry.get("Orgc") or {}).get("name", "?")
                # The excerpt names the event, never its content: the content is not ours to hold.
                yield BadRecord(f"manifest {event_uuid}", f"event {event_uuid} from {org} {reason}", "")

    def to_report(self, record: dict[str, Any]) -> Report | None:
        missing = [f for f in self.required_fields if not record.get(f)]
        if missing:
            raise RecordError(f"MISP event lacks {missing}")
        reason = self.refusal(record.get("Tag"))
        if reason:
            raise RecordError(f"event {record['uuid']} {reason}")
        orgc = record["Orgc"] if isinstance(record["Orgc"], dict) else {}
        if not orgc.get("name"):
            raise RecordError("MISP event has no originating organisation (Orgc.name)")
        texts: dict[str, str] = {}
        counts: dict[str, int] = {}
        for attr in record.get("Attribute") or []:
            comment, value = str(attr.get("comment", "")), attr.get("value")
            if attr.get("type") == "text" and comment in TEXT_FIELDS and value:
                texts.setdefault(comment, str(value))
            elif attr.get("type") == "counter" and comment in COUNT_FIELDS:
                try:
                    counts.setdefault(comment, int(str(value)))
                except ValueError:
                    raise RecordError(f"{comment} count {str(value)[:20]!r} is not a whole number") from None
        reports = _objects(record, "report")
        places = _objects(record, "geolocation")
        place = places[0] if places else {}
        link = next(
            (r["link"] for r in reports if r.get("link", "").startswith(("http://", "https://"))), None
        )
        summary = next((r["summary"] for r in reports if r.get("summary")), "")
        body = "\n".join(f"{r.get('title', '')}. {r.get('summary', '')}".strip() for r in reports)
        updated = _epoch(record["timestamp"], "timestamp")
        # The event's date is when the incident happened; its timestamps say when the partner last
        # edited or published the event, which is when it was shared, not when it was reported.
        try:
            when = dt.datetime.combine(dt.date.fromisoformat(str(record.get("date"))), dt.time(), dt.UTC)
        except ValueError:
            raise RecordError(f"event date {str(record.get('date'))[:20]!r} is not an ISO date") from None
        marking = marking_of(record.get("Tag")) or self.tlp
        return Report(
            source=self.name,
            source_id=str(record["uuid"]),
            url=link or self.event_url(str(record["uuid"])),
            title=html_to_text(str(record["info"])) or str(record["uuid"]),
            summary=html_to_text(summary),
            text=html_to_text(body),
            published_at=when,
            observed_at=when,
            disease=texts.get("disease"),
            pathogen=texts.get("pathogen"),
            host=texts.get("host"),
            country_iso3=_iso3(place.get("countrycode")),
            admin_area=place.get("region") or None,
            lat=_float(place.get("latitude")),
            lon=_float(place.get("longitude")),
            cases=counts.get("cases"),
            deaths=counts.get("deaths"),
            language="en",
            tlp=marking,
            evidence={
                "misp": {
                    "event_uuid": str(record["uuid"]),
                    "event_url": self.event_url(str(record["uuid"])),
                    "orgc": {"name": str(orgc["name"]), "uuid": str(orgc.get("uuid", ""))},
                    "tags": sorted(tag_names(record.get("Tag"))),
                    "timestamp": updated.isoformat(),
                    "reports": len(reports),
                }
            },
        )
