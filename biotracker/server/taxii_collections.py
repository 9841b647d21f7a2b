"""What each TAXII 2.1 collection holds for one caller: STIX objects with stable ``date_added``, paged.

A collection is one audience of the outputs (a TLP 2.0 clearance), so it serves exactly the
selection the MISP feed serves (:func:`~biotracker.outputs.misp.shareable_incidents`: the one
audience filter, then no RED, then incidents with the reports and alerts of them the audience may
read), written by the STIX 2.1 writer (:func:`~biotracker.outputs.stix.stix_bundle`, deterministic
ids). On top of the audience, every record passes the caller's own access policy (the same checks
the REST API makes), so an AMBER collection never shows a caller another organisation's AMBER
record that was not shared with it.

``date_added`` comes from stored times, never the wall clock, so it is the same on every request
and ``added_after`` paging neither repeats nor skips: the later of the object's ``modified`` time
and when Biotracker received what it shows (the fetch time of a report's raw payload; for an
incident and its place link, of its newest report; for an alert, that or its last status change).
A report published long ago but fetched today is therefore added today, and a consumer polling
with ``added_after`` still gets it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, func, select

from biotracker.access import Principal, Visibility
from biotracker.db.tables import alerts, incident_reports, incidents, raw_payloads, reports
from biotracker.incidents.scopes import INTERNAL, Scope, scope_named
from biotracker.outputs.audience import Audience, Item
from biotracker.outputs.misp import shareable_incidents
from biotracker.outputs.records import OutputData, load_output_data
from biotracker.outputs.stix import stix_bundle, stix_id
from biotracker.schema import Report, Tlp, as_utc
from biotracker.server.visibility import COMMUNITY_READS, MEMBER_READS, Rules

STIX_MEDIA_TYPE = "application/stix+json;version=2.1"
SPEC_VERSION = "2.1"
#: Namespace of the collection ids (UUIDv5 of the marking, so they never change).
_NAMESPACE = uuid.UUID("3d5c1f0e-8a2b-5c47-9e61-2f4b7a9c0d13")


@dataclass(frozen=True)
class TaxiiCollection:
    """One collection: everything an audience cleared for ``marking`` may receive, RED never."""

    marking: Tlp
    law_enforcement: bool = False

    @property
    def id(self) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"collection:{self.marking.value}"))

    @property
    def title(self) -> str:
        return f"Biotracker incidents up to {self.marking}"

    @property
    def description(self) -> str:
        intake = (
            " Includes law-enforcement intake (always at least TLP:AMBER+STRICT)."
            if self.law_enforcement
            else ""
        )
        return (
            f"Incidents, their reports, places and alerts (STIX 2.1) that an audience cleared for "
            f"{self.marking} may receive, each object with its own TLP 2.0 marking.{intake}"
        )

    @property
    def audience(self) -> Audience:
        kind = "law_enforcement" if self.law_enforcement else "partner"
        return Audience(name=f"taxii {self.marking}", clearance=self.marking, kind=kind)


#: Least to most restrictive; TLP:RED has none (RED is for named people, never for a platform).
COLLECTIONS: tuple[TaxiiCollection, ...] = (
    TaxiiCollection(Tlp.CLEAR),
    TaxiiCollection(Tlp.GREEN),
    TaxiiCollection(Tlp.AMBER),
    TaxiiCollection(Tlp.AMBER_STRICT, law_enforcement=True),
)


def readable_collections(principal: Principal, rules: Rules) -> list[TaxiiCollection]:
    """The collections ``principal`` may read: those whose marking the policy lets it see on the
    community's own records (CLEAR and GREEN: every user; AMBER and AMBER+STRICT: the community
    organisation, which originates every feed record)."""
    return [c for c in COLLECTIONS if rules.sees(principal, Visibility(c.marking, rules.community_org))]


def find_collection(principal: Principal, rules: Rules, collection_id: str) -> TaxiiCollection | None:
    """The collection, or None when it does not exist or ``principal`` may not read it (alike)."""
    return next((c for c in readable_collections(principal, rules) if c.id == collection_id), None)


@dataclass(frozen=True)
class Entry:
    """One STIX object of a collection with what TAXII and the audit log need about it."""

    obj: Mapping[str, object]
    date_added: dt.datetime
    marking: Tlp = Tlp.CLEAR
    #: The Biotracker record the object shows (incident, report or alert id), for the audit log.
    record_id: str | None = None

    @property
    def id(self) -> str:
        return str(self.obj["id"])

    @property
    def type(self) -> str:
        return str(self.obj["type"])

    @property
    def version(self) -> str:
        return str(self.obj.get("modified") or self.obj["created"])


def taxii_time(moment: dt.datetime) -> str:
    """A TAXII timestamp: UTC, millisecond precision, ``Z``."""
    utc = moment.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_time(text: str) -> dt.datetime:
    """An RFC 3339 timestamp (``2026-01-01T00:00:00Z``, any sub-second precision); ValueError if not."""
    moment = dt.datetime.fromisoformat(text.strip().replace("z", "Z"))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone; end it with Z")
    return moment.astimezone(dt.UTC)


def _to_millisecond(moment: dt.datetime) -> dt.datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _report_visibility(rules: Rules, report: Report) -> Visibility:
    return rules.of_report(
        {
            "source": report.source,
            "tlp": report.tlp,
            "originator_org": report.originator_org,
            "share_with": report.share_with,
            "share_users": report.share_users,
        }
    )


def _alerts_safe(rules: Rules, principal: Principal, scope: Scope) -> bool:
    """Whether every record ``scope``'s alerts were derived from is one ``principal`` may see, so
    that none of them exists or changes because of a record hidden from it (issue 14, item 3).

    The standard scopes are the community organisation's views (``Scope.admits``: another
    organisation's contribution feeds them only when the community may see it), so every member
    may see what :data:`MEMBER_READS` uses, and the community organisation what
    :data:`COMMUNITY_READS` uses. Anything else fails closed: the collection carries no alerts
    (its incidents and reports are still checked one by one)."""
    if scope.org is not None:
        return False
    if MEMBER_READS.sees_all_of(scope):
        return True
    return principal.org == rules.community_org and COMMUNITY_READS.sees_all_of(scope)


def caller_selection(
    data: OutputData, collection: TaxiiCollection, principal: Principal, rules: Rules, engine: Engine
) -> OutputData:
    """The collection's selection narrowed to what ``principal`` may see: an incident only when every
    one of its reports is visible to it, its alerts only when every record behind them is
    (``_alerts_safe``)."""
    _, shares = shareable_incidents(data, collection.audience)
    reports = {i.key: i.report for i in data.reports}

    def sees_report(report_id: str) -> bool:
        report = reports.get(report_id)
        return report is not None and rules.sees(principal, _report_visibility(rules, report))

    shares = [s for s in shares if all(sees_report(r) for r in s.record.report_ids)]
    source = scope_named(data.scope, rules.community_org) if data.scope else INTERNAL
    alerts_kept = _alerts_safe(rules, principal, source)
    kept_reports: dict[str, Item] = {r.key: r for s in shares for r in s.reports}
    return OutputData(
        incidents=[s.incident for s in shares],
        reports=[kept_reports[k] for k in sorted(kept_reports)],
        alerts=[a for s in shares for a in s.alerts] if alerts_kept else [],
        source_kinds=data.source_kinds,
        scope=data.scope,
    )


def received_times(engine: Engine, selection: OutputData) -> dict[str, dt.datetime]:
    """STIX id -> when Biotracker received what the object shows (stored times only): a report's raw
    payload fetch time, an incident's newest report's, an alert's that or its last status change."""
    hashes = sorted({i.report.raw_sha256 for i in selection.reports if i.report.raw_sha256})
    fetched: dict[str, dt.datetime] = {}
    with engine.connect() as conn:
        for start in range(0, len(hashes), 500):
            query = select(raw_payloads.c.sha256, raw_payloads.c.fetched_at).where(
                raw_payloads.c.sha256.in_(hashes[start : start + 500])
            )
            fetched.update({sha: as_utc(at) for sha, at in conn.execute(query)})
    of_report = {
        i.key: fetched[i.report.raw_sha256]
        for i in selection.reports
        if i.report.raw_sha256 and i.report.raw_sha256 in fetched
    }
    of_incident: dict[str, dt.datetime] = {}
    for item in selection.incidents:
        times = [of_report[r] for r in item.incident.report_ids if r in of_report]
        if times:
            of_incident[item.key] = max(times)
    out = {stix_id("report", k): v for k, v in of_report.items()}
    out |= {stix_id("incident", k): v for k, v in of_incident.items()}
    for item in selection.alerts:
        alert = item.alert
        times = [t for t in (of_incident.get(alert.incident_id or ""), alert.status_at) if t is not None]
        if times:
            out[stix_id("note", item.key)] = max(as_utc(t) for t in times)
    return out


def collection_entries(
    engine: Engine, rules: Rules, principal: Principal, collection: TaxiiCollection
) -> list[Entry]:
    """Every object of ``collection`` that ``principal`` may read, ordered by (date_added, id)."""
    audience = collection.audience
    data = load_output_data(engine, audience=audience, source_kinds=rules.source_kinds)
    selection = caller_selection(data, collection, principal, rules, engine)
    if not selection.incidents:
        return []
    _, bundle = stix_bundle(selection, audience)
    records: dict[str, tuple[str, Tlp]] = {}
    for item in selection.incidents:
        records[stix_id("incident", item.key)] = (item.key, item.tlp)
    for item in selection.reports:
        records[stix_id("report", item.key)] = (item.key, item.tlp)
    for item in selection.alerts:
        records[stix_id("note", item.key)] = (item.key, item.tlp)
    received = received_times(engine, selection)
    entries = []
    for obj in json.loads(bundle.serialize())["objects"]:
        modified = parse_time(obj.get("modified") or obj["created"])
        # a place link is as new as its incident (its source)
        got = received.get(obj["id"]) or received.get(str(obj.get("source_ref", "")))
        added = _to_millisecond(max(modified, got) if got else modified)
        record_id, marking = records.get(obj["id"], (None, Tlp.CLEAR))
        entries.append(Entry(obj, added, marking, record_id))
    entries.sort(key=lambda e: (e.date_added, e.id))
    return entries


# --- filtering and paging -------------------------------------------------------------------------


class BadFilter(ValueError):
    """A query parameter the server does not understand (TAXII answers 400)."""


@dataclass(frozen=True)
class Query:
    """The TAXII filters of one request (section 3.4): ``added_after``, ``limit``, ``next``, ``match[…]``."""

    limit: int
    added_after: dt.datetime | None = None
    after: tuple[dt.datetime, str] | None = None  # from ``next``: the last entry already returned
    types: frozenset[str] = frozenset()
    ids: frozenset[str] = frozenset()
    versions: frozenset[str] = frozenset({"last"})
    spec_versions: frozenset[str] = frozenset()

    def matches(self, entry: Entry) -> bool:
        if self.added_after is not None and entry.date_added <= self.added_after:
            return False
        if self.after is not None and (entry.date_added, entry.id) <= self.after:
            return False
        if self.types and entry.type not in self.types:
            return False
        if self.ids and entry.id not in self.ids:
            return False
        if self.spec_versions and SPEC_VERSION not in self.spec_versions:
            return False
        # One version of each object exists: "first", "last" and "all" all name it.
        return bool(self.versions & {"first", "last", "all"}) or entry.version in self.versions


def _values(params: Mapping[str, str], name: str) -> frozenset[str]:
    raw = params.get(name)
    return frozenset(v.strip() for v in raw.split(",") if v.strip()) if raw else frozenset()


def parse_query(params: Mapping[str, str], *, max_page: int) -> Query:
    """The filters of a request's query string; :class:`BadFilter` names the parameter that is wrong."""
    limit = max_page
    if params.get("limit"):
        try:
            limit = int(params["limit"])
        except ValueError:
            raise BadFilter(f"limit: {params['limit']!r} is not a whole number") from None
        if limit < 1:
            raise BadFilter("limit: must be at least 1")
        limit = min(limit, max_page)
    added_after = None
    if params.get("added_after"):
        try:
            added_after = parse_time(params["added_after"])
        except ValueError:
            raise BadFilter(
                f"added_after: {params['added_after']!r} is not a timestamp like 2026-01-01T00:00:00.000Z"
            ) from None
    after = decode_next(params["next"]) if params.get("next") else None
    versions = _values(params, "match[version]") or frozenset({"last"})
    return Query(
        limit=limit,
        added_after=added_after,
        after=after,
        types=_values(params, "match[type]"),
        ids=_values(params, "match[id]"),
        versions=versions,
        spec_versions=_values(params, "match[spec_version]"),
    )


def encode_next(entry: Entry) -> str:
    raw = json.dumps([taxii_time(entry.date_added), entry.id]).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_next(token: str) -> tuple[dt.datetime, str]:
    try:
        added, object_id = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return parse_time(str(added)), str(object_id)
    except (ValueError, TypeError, binascii.Error):
        raise BadFilter("next: not a value this server returned; start again without it") from None


@dataclass(frozen=True)
class Page:
    entries: Sequence[Entry] = field(default_factory=tuple)
    more: bool = False

    @property
    def next(self) -> str | None:
        return encode_next(self.entries[-1]) if self.more and self.entries else None

    def headers(self) -> dict[str, str]:
        """``X-TAXII-Date-Added-First`` and ``-Last`` of the page (none when it is empty)."""
        if not self.entries:
            return {}
        return {
            "X-TAXII-Date-Added-First": taxii_time(self.entries[0].date_added),
            "X-TAXII-Date-Added-Last": taxii_time(self.entries[-1].date_added),
        }


def page_of(entries: Sequence[Entry], query: Query) -> Page:
    """The entries after the query's position that match it, at most ``limit`` of them."""
    matching = [e for e in entries if query.matches(e)]
    return Page(tuple(matching[: query.limit]), more=len(matching) > query.limit)


# --- the cache ------------------------------------------------------------------------------------


def store_fingerprint(engine: Engine) -> tuple[object, ...]:
    """Row counts, latest times and markings of what a collection is built from: any fetch,
    normalisation (its last step marks the payload done), contribution, correction, withdrawal,
    re-marking, pipeline run or alert status change moves at least one of them."""
    queries = (
        select(
            func.count(),
            func.max(raw_payloads.c.fetched_at),
            func.count(raw_payloads.c.normalised_version),
            func.sum(raw_payloads.c.normalised_version),
        ),
        select(func.count(), func.max(reports.c.published_at), func.max(reports.c.withdrawn_at)),
        select(func.count(), func.max(incidents.c.last_seen_at), func.sum(incidents.c.report_count)),
        select(func.count()).select_from(incident_reports),
        select(func.count(), func.max(alerts.c.status_at)),
    )
    by_marking = [
        select(table.c.tlp, func.count()).group_by(table.c.tlp).order_by(table.c.tlp)
        for table in (reports, incidents, alerts)
    ]
    with engine.connect() as conn:
        totals = tuple(value for query in queries for value in conn.execute(query).one())
        markings = tuple(tuple(tuple(row) for row in conn.execute(query)) for query in by_marking)
    return totals + markings


class CollectionCache:
    """Entries per (collection, caller), rebuilt when the store's fingerprint moves.

    Building a collection reads and converts the whole selection (seconds on the demo); paging
    through it must not repeat that for every page. Bounded: the least recently used go first.
    """

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._entries: dict[tuple[str, Principal], tuple[tuple[object, ...], list[Entry]]] = {}
        self._lock = threading.Lock()
        #: one build at a time per key: a client paging in parallel waits for the first build
        self._building: dict[tuple[str, Principal], threading.Lock] = {}

    def _cached(self, key: tuple[str, Principal], fingerprint: tuple[object, ...]) -> list[Entry] | None:
        with self._lock:
            found = self._entries.pop(key, None)
            if found is None or found[0] != fingerprint:
                return None
            self._entries[key] = found  # most recently used last
            return found[1]

    def entries(
        self, engine: Engine, rules: Rules, principal: Principal, collection: TaxiiCollection
    ) -> list[Entry]:
        key = (collection.id, principal)
        fingerprint = store_fingerprint(engine)
        found = self._cached(key, fingerprint)
        if found is not None:
            return found
        with self._lock:
            building = self._building.setdefault(key, threading.Lock())
        with building:
            found = self._cached(key, fingerprint)
            if found is not None:
                return found
            built = collection_entries(engine, rules, principal, collection)
            with self._lock:
                self._entries[key] = (fingerprint, built)
                while len(self._entries) > self.size:
                    oldest = next(iter(self._entries))
                    del self._entries[oldest]
                    self._building.pop(oldest, None)
        return built
