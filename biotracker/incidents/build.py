"""Stage 3: group reports into incidents (``build_incidents``).

The clustering itself is the pure ``cluster_reports`` (``cluster.py``); this module reads reports
and analyst overrides from the store, clusters them and replaces the incidents they belonged to.
Incident ids come from each incident's earliest report, so the same reports always give the same
incidents, and a re-run updates rather than duplicates.

With a window, only the neighbourhood of the window's reports is re-clustered: every report whose
event time lies within ``gap_days`` of theirs, plus every member of an incident any of those belong
to. Links never span more than ``gap_days`` in time (except same-URL duplicates, which are already
in one incident), so nothing outside that neighbourhood can join or leave. A full run
(``window=None``) is the reference.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, fields
from operator import itemgetter
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, delete, func, select

from biotracker.db.batches import in_batches
from biotracker.db.tables import incident_merges, incident_overrides, incident_reports, incidents, reports
from biotracker.db.upsert import upsert
from biotracker.errors import BiotrackerError
from biotracker.incidents.changes import Changes, SeriesWeek
from biotracker.incidents.cluster import (
    Cluster,
    ClusterConfig,
    ClusterResult,
    Fingerprints,
    ReportRecord,
    cluster_reports,
    incident_id_for,
)
from biotracker.incidents.reliability import SourceTier, source_tiers, tier_of
from biotracker.incidents.scopes import INTERNAL, Scope, configured_community_org, intake_sources
from biotracker.incidents.series import series_key, week_start
from biotracker.incidents.series_counts import apply_link_changes
from biotracker.schema import SourceKind, Tlp, Window, as_utc, most_restrictive

__all__ = [
    "IncidentSummary",
    "build_incidents",
    "detach_report",
    "incident_id_for",
    "merge_reports",
    "reattach_report",
    "unmerge_report",
]

log = logging.getLogger(__name__)
#: Characters of summary and body a record keeps: the start of a story is what relays copy, and a
#: million full WHO DON bodies would not fit in memory. Exact duplicates are judged on the title
#: and this much text.
TEXT_CHARS = 4000
_COLUMNS = tuple(
    reports.c[name]
    for name in (
        "report_id",
        "source",
        "url",
        "title",
        "published_at",
        "observed_at",
        "disease",
        "pathogen",
        "host",
        "country_iso3",
        "cases",
        "deaths",
        "tlp",
        # who may see it: what an organisation scope admits by (``Scope.admits``)
        "originator_org",
        "share_with",
        "withdrawn_at",
    )
) + (
    # the start of summary and body is all a record keeps (``TEXT_CHARS``): long bodies stay in the store
    func.substr(reports.c.summary, 1, TEXT_CHARS).label("summary"),
    func.substr(reports.c.text, 1, TEXT_CHARS).label("text"),
    # only the parts of the evidence clustering reads (the agent names, the cues), not whole
    # evidence documents: decoding those cost more than the clustering at a million reports
    reports.c.evidence[("extraction", "diseases")].label("extraction_diseases"),
    reports.c.evidence["cues"].label("evidence_cues"),
)


@dataclass
class IncidentSummary:
    """What one run changed, in a form the next stage takes (``score_window(..., changes=...)``)."""

    reports: int = 0
    incidents: int = 0
    #: reports that joined an incident seeded by another report
    merged: int = 0
    #: reports that are exact or near duplicates of an earlier report
    duplicates: int = 0
    #: incidents with reports from two or more independent sources
    corroborated: int = 0
    #: incidents that no longer exist (merged into another, or re-seeded)
    removed: int = 0
    #: links refused because they would join different known agents or countries
    refused: int = 0
    detached: int = 0
    #: links not made because the incident would have spanned more than ``max_span_days``
    span_cuts: int = 0
    links: dict[str, int] = field(default_factory=dict)
    #: the typed hand-off: which scope, and what in it changed
    changes: Changes = field(default_factory=lambda: Changes(INTERNAL.key))

    def summary(self) -> dict[str, Any]:
        # not asdict(): it would deep-copy the changes only to drop them
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "changes"}
        return out | {"changes": self.changes.summary()}


def agent_key(
    pathogen: str | None, disease: str | None, evidence: Mapping[str, Any] | None = None
) -> str | None:
    """What "the same agent" means, case-folded: the extractor's agent name (one vocabulary for every
    source: EMPRES-i's "H5N8 HPAI" and the HPAI tables' "Influenza A virus (H5N8)" agree there), else
    the report's pathogen, else its disease."""
    extraction = (evidence or {}).get("extraction") or {}
    names = [d.get("agent_name") for d in extraction.get("diseases") or [] if isinstance(d, dict)]
    value = next((n for n in names if n), None) or pathogen or disease or ""
    return value.strip().casefold() or None


def _event_time(row: Mapping[str, Any]) -> dt.datetime | None:
    value = row["observed_at"] or row["published_at"]
    return as_utc(value) if value is not None else None


#: What ``incident_row`` needs of each report once its record is made (no text, no evidence).
_KEPT = (
    "report_id",
    "source",
    "title",
    "published_at",
    "observed_at",
    "disease",
    "pathogen",
    "host",
    "country_iso3",
    "cases",
    "deaths",
    "tlp",
    # what ``Scope.admits`` judges a report by: without them an organisation's contribution would
    # read as a record of nobody (or of the community) and land in the wrong scopes
    "originator_org",
    "share_with",
    "withdrawn_at",
)


def cue_count(evidence: Mapping[str, Any] | None) -> int:
    """Intent and accident cues in a report's evidence (``incident_reports.cues``)."""
    cues = (evidence or {}).get("cues")
    return len(cues) if isinstance(cues, list) else 0


def report_record(row: Mapping[str, Any]) -> ReportRecord:
    return ReportRecord(
        report_id=row["report_id"],
        source=row["source"],
        at=_event_time(row),
        title=row["title"],
        text=" ".join(t for t in (row["summary"], row["text"]) if t)[:TEXT_CHARS],
        url=row["url"],
        agent=agent_key(row["pathogen"], row["disease"], row.get("evidence")),
        country_iso3=row["country_iso3"],
    )


@dataclass
class ReadCache:
    """Reports read for one run, shared by every scope's build: each scope re-clusters the
    neighbourhood of the same new reports, only its visibility rule differs, so the rows are read
    (and their records made) once. Holds slim rows and records, never full texts."""

    records: dict[str, ReportRecord] = field(default_factory=dict)
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: report ids each query returned, by a key naming the query
    results: dict[tuple[Any, ...], list[str]] = field(default_factory=dict)
    #: each record's URL/content keys and MinHash sketch, hashed once for every scope's clustering
    fingerprints: Fingerprints = field(default_factory=Fingerprints)

    def read(self, conn: Connection, key: tuple[Any, ...] | None, query: Any) -> list[str]:
        """Ids of the rows ``query`` returns (read now unless ``key`` was read before)."""
        if key is not None and key in self.results:
            return self.results[key]
        ids = []
        result = conn.execute(query)
        names = list(result.keys())
        at = names.index("report_id")
        for values in result:  # plain tuples: most rows were read for an earlier query or scope
            rid = values[at]
            if rid not in self.records:
                row = dict(zip(names, values, strict=True))
                evidence = {
                    "extraction": {"diseases": row["extraction_diseases"] or []},
                    "cues": row["evidence_cues"] or [],
                }
                self.records[rid] = report_record({**row, "evidence": evidence})
                self.rows[rid] = {k: row[k] for k in _KEPT} | {"cues": cue_count(evidence)}
            ids.append(rid)
        if key is not None:
            self.results[key] = ids
        return ids


class _Scope:
    """Reports being re-clustered: a record and a slim row each; only the reports ``sees`` admits
    (the visibility scope's rule, applied here rather than in SQL so that the neighbourhood
    queries keep to the event-time index and are shared by every scope through ``ReadCache``)."""

    def __init__(
        self, sees: Callable[[Mapping[str, Any]], bool] = lambda row: True, cache: ReadCache | None = None
    ) -> None:
        self.records: dict[str, ReportRecord] = {}
        self.rows: dict[str, dict[str, Any]] = {}
        self.sees = sees
        self.cache = cache or ReadCache()
        #: the new or changed reports the run was asked about (before their neighbourhood)
        self.seeds: set[str] = set()

    def add(self, conn: Connection, query: Any, key: tuple[Any, ...] | None = None) -> list[dt.datetime]:
        """Admit the rows ``query`` returns; the event times of those admitted."""
        times = []
        cache = self.cache
        for rid in cache.read(conn, key, query):
            row = cache.rows[rid]
            if rid not in self.records and self.sees(row):
                record = cache.records[rid]
                self.records[rid] = record
                self.rows[rid] = row
                if record.at is not None:
                    times.append(record.at)
        return times

    def add_ids(self, conn: Connection, report_ids: Collection[str]) -> None:
        """Admit the reports ``report_ids`` (each row read once per run, whichever scope asks)."""
        cache = self.cache
        for ids in in_batches(sorted(set(report_ids) - cache.rows.keys())):
            cache.read(conn, None, select(*_COLUMNS).where(reports.c.report_id.in_(ids)))
        for rid in report_ids:
            row = cache.rows.get(rid)
            if row is not None and rid not in self.records and self.sees(row):
                self.records[rid] = cache.records[rid]
                self.rows[rid] = row


def _intervals(times: list[dt.datetime], gap: dt.timedelta) -> list[tuple[dt.datetime, dt.datetime]]:
    """Event-time ranges within ``gap`` of the given times, overlapping ones merged: a report
    observed two years ago must not pull in the two years between it and today's reports."""
    out: list[tuple[dt.datetime, dt.datetime]] = []
    for t in sorted(times):
        if out and t - gap <= out[-1][1]:
            out[-1] = (out[-1][0], t + gap)
        else:
            out.append((t - gap, t + gap))
    return out


def _load_scope(
    conn: Connection,
    window: Window | None,
    gap: dt.timedelta,
    visible: ColumnElement[bool],
    sees: Callable[[Mapping[str, Any]], bool],
    scope_key: str,
    report_ids: Collection[str] | None = None,
    cache: ReadCache | None = None,
) -> tuple[_Scope, set[str]]:
    """Reports to re-cluster and the ids of the incidents they belonged to (in this scope)."""
    if window is None and report_ids is None:
        scope = _Scope(sees)  # a full build: every row once, nothing worth sharing
        scope.add(conn, select(*_COLUMNS).where(visible).execution_options(yield_per=5000))
        return scope, set(
            conn.execute(select(incidents.c.incident_id).where(incidents.c.scope == scope_key)).scalars()
        )
    scope = _Scope(sees, cache)
    times: list[dt.datetime] = []
    if window is not None:
        in_window = (reports.c.published_at >= window.start) & (reports.c.published_at < window.end)
        times += scope.add(conn, select(*_COLUMNS).where(in_window), ("window", window.start, window.end))
    for ids in in_batches(sorted(report_ids or ())):
        query = select(*_COLUMNS).where(reports.c.report_id.in_(ids))
        times += scope.add(conn, query, ("ids", tuple(ids)))
    scope.seeds = set(scope.records) | set(report_ids or ())
    if not scope.records and not report_ids:
        return scope, set()
    event_at = func.coalesce(reports.c.observed_at, reports.c.published_at)
    for low, high in _intervals(times, gap):
        near = select(*_COLUMNS).where(event_at >= low, event_at <= high)
        scope.add(conn, near.execution_options(yield_per=5000), ("near", low, high))
    touched: set[str] = set()
    # named reports this scope no longer sees (re-marked) are looked up too: their incidents lose them
    for ids in in_batches(sorted(set(scope.records) | set(report_ids or ()))):
        touched.update(
            conn.execute(
                select(incident_reports.c.incident_id).where(
                    incident_reports.c.report_id.in_(ids), incident_reports.c.scope == scope_key
                )
            ).scalars()
        )
    members: set[str] = set()  # the touched incidents' reports: mostly read already for another scope
    for ids in in_batches(sorted(touched)):
        members.update(
            conn.execute(
                select(incident_reports.c.report_id).where(incident_reports.c.incident_id.in_(ids))
            ).scalars()
        )
    scope.add_ids(conn, members)
    return scope, touched


def _tiers() -> dict[str, SourceTier]:
    from biotracker.ingest.registry import connector_classes

    try:
        return source_tiers({name: cls.kind for name, cls in connector_classes().items()})
    except BiotrackerError as exc:  # a broken connector module must not stop clustering
        log.warning("source tiers from the table only: %s", exc)
        return source_tiers({})


def incident_row(
    cluster: Cluster, rows: Mapping[str, Mapping[str, Any]], tiers: Mapping[str, SourceTier]
) -> dict:
    """The incident's fields: descriptive ones from its most reliable, earliest report that has them."""
    members = [rows[r] for r in cluster.report_ids]  # (time, id) order
    lead = sorted(members, key=lambda r: -(tiers.get(r["source"]) or tier_of(r["source"])).weight)  # stable

    def first(name: str) -> Any:
        return next((r[name] for r in lead if r[name] is not None), None)

    def largest(name: str) -> int | None:
        values = [r[name] for r in members if r[name] is not None]
        return max(values) if values else None

    times = [t for t in (_event_time(r) for r in members) if t is not None]
    published = [as_utc(r["published_at"]) for r in members if r["published_at"] is not None]
    return {
        "incident_id": cluster.incident_id,
        "title": lead[0]["title"],
        "disease": first("disease"),
        "pathogen": first("pathogen"),
        "host": first("host"),
        "country_iso3": first("country_iso3"),
        "first_seen_at": min(times) if times else None,
        "last_seen_at": max(published + times) if published or times else None,
        "cases": largest("cases"),
        "deaths": largest("deaths"),
        "tlp": most_restrictive(Tlp(r["tlp"]) for r in members).value,
        "report_count": len(members),
        "corroboration": cluster.corroboration,
        "reliability": cluster.reliability,
        "source_tier": cluster.tier,
    }


def _link_rows(cluster: Cluster, rows: Mapping[str, Mapping[str, Any]], scope: Scope) -> list[dict]:
    """The cluster's links, each with its report's series, week and counts (the facts later stages read)."""
    out = []
    incident_id = scope.qualify(cluster.incident_id)
    for link in cluster.links:
        row = rows[link.report_id]
        at = _event_time(row)
        out.append(
            {
                "incident_id": incident_id,
                "report_id": link.report_id,
                "link": link.kind.value,
                "linked_to": link.linked_to,
                "reason": link.reason,
                "duplicate_of": link.duplicate_of,
                "scope": scope.key,
                "series_key": series_key(row["disease"], row["country_iso3"], row["host"]),
                "disease": row["disease"],
                "country_iso3": row["country_iso3"],
                "period_start": week_start(at) if at is not None else None,
                "cases": row["cases"],
                "deaths": row["deaths"],
                "source": row["source"],
                "cues": row["cues"],
            }
        )
    return out


_LINK_FACTS = ("incident_id", "duplicate_of", "series_key", "period_start", "link", "linked_to", "reason")
#: what of a link the weekly counts and the lens's history read (with the report's own fields)
_COUNTED_FACTS = ("duplicate_of", "series_key", "period_start")


def _old_links(conn: Connection, scope: Scope, report_ids: Iterable[str], full: bool) -> dict[str, dict]:
    """The stored links of ``report_ids`` (a full run: every link of the scope, only the facts
    ``_changes`` compares; otherwise whole rows, so that unchanged ones need not be rewritten)."""
    cols = [incident_reports.c.report_id, *(incident_reports.c[c] for c in _LINK_FACTS)]
    if not full:
        cols = list(incident_reports.columns)
    where = incident_reports.c.scope == scope.key
    names = [c.name for c in cols]  # rows zipped with their names: a million links at 1M reports
    at = names.index("report_id")
    if full:
        return {r[at]: dict(zip(names, r, strict=True)) for r in conn.execute(select(*cols).where(where))}
    out: dict[str, dict] = {}
    for ids in in_batches(sorted(report_ids)):
        query = select(*cols).where(where, incident_reports.c.report_id.in_(ids))
        out.update({r[at]: dict(zip(names, r, strict=True)) for r in conn.execute(query)})
    return out


def _same(row: Mapping[str, Any], stored: Mapping[str, Any] | None) -> bool:
    """Whether the stored row already holds every value of ``row`` (then it need not be written)."""
    if stored is None:
        return False
    if len(stored) == len(row):  # the usual case, the same columns: one comparison of the dicts
        return stored == row
    return all(stored.get(k) == v for k, v in row.items())


def _old_incidents(conn: Connection, ids: Iterable[str]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for chunk in in_batches(sorted(ids)):
        out.update(
            {
                r["incident_id"]: {k: (as_utc(v) if isinstance(v, dt.datetime) else v) for k, v in r.items()}
                for r in conn.execute(select(incidents).where(incidents.c.incident_id.in_(chunk))).mappings()
            }
        )
    return out


def first_week(conn: Connection, scope: str, with_disease: bool = False) -> dt.date | None:
    """The first week with a counted report in the scope: every series' week axis starts there."""
    where = [
        incident_reports.c.scope == scope,
        incident_reports.c.period_start.is_not(None),
        incident_reports.c.duplicate_of.is_(None),
    ]
    if with_disease:
        where.append(incident_reports.c.disease.is_not(None))
    return conn.execute(
        select(incident_reports.c.period_start)
        .where(*where)
        .order_by(incident_reports.c.period_start)
        .limit(1)
    ).scalar()


def build_incidents(
    engine: Engine,
    window: Window | None = None,
    config: ClusterConfig = ClusterConfig(),
    *,
    report_ids: Collection[str] | None = None,
    scope: Scope = INTERNAL,
    source_kinds: Mapping[str, SourceKind] | None = None,
    cache: ReadCache | None = None,
) -> IncidentSummary:
    """Cluster the reports ``scope`` may see into incidents, replacing the incidents they belonged to.

    Which reports: those published in ``window`` and those named in ``report_ids`` (new or changed
    reports, whatever their dates), with their neighbourhood; every report when both are None (a
    full rebuild of the scope). ``summary.changes`` says what changed, for the next stage. One
    ``cache`` given to every scope's build in a run reads their shared neighbourhood once.
    """
    summary = IncidentSummary()
    tiers = _tiers()
    intake = intake_sources(source_kinds)
    visible = scope.visible(intake)
    community = configured_community_org()

    def sees(row: Mapping[str, Any]) -> bool:
        return scope.admits(row, intake, community)

    full = window is None and report_ids is None
    with engine.begin() as conn:
        starts = (first_week(conn, scope.key), first_week(conn, scope.key, True))
        loaded, touched = _load_scope(
            conn, window, dt.timedelta(days=config.gap_days), visible, sees, scope.key, report_ids, cache
        )
        detached = set(
            conn.execute(
                select(incident_overrides.c.report_id).where(incident_overrides.c.action == "detach")
            ).scalars()
        )
        forced = [
            (a, b)
            for a, b in conn.execute(select(incident_merges.c.report_id, incident_merges.c.with_report_id))
            if a in loaded.records and b in loaded.records
        ]
        prints = cache.fingerprints if cache is not None and cache.fingerprints.fits(config) else None
        result: ClusterResult = cluster_reports(
            list(loaded.records.values()), config, detached, tiers, merged_pairs=forced, fingerprints=prints
        )
        by_id = loaded.rows
        seeds = loaded.seeds
        del loaded
        incident_rows, links = [], []
        for cluster in result.clusters():
            row = incident_row(cluster, by_id, tiers)
            row["incident_id"] = scope.qualify(row["incident_id"])
            incident_rows.append(row | {"scope": scope.key})
            links.extend(_link_rows(cluster, by_id, scope))
        new_ids = {r["incident_id"] for r in incident_rows}
        relinked = set(by_id) | set(report_ids or ())  # named but no longer visible: links dropped
        old_links = _old_links(conn, scope, relinked, full)
        old_incidents = _old_incidents(conn, touched | new_ids)
        written_links, written_incidents = links, incident_rows
        if full:
            conn.execute(delete(incident_reports).where(incident_reports.c.scope == scope.key))
        else:
            # a neighbourhood's links and incidents are mostly as stored: only those that differ
            # (or are gone) are deleted and written
            written_links = [r for r in links if not _same(r, old_links.get(r["report_id"]))]
            kept = {r["report_id"] for r in links} - {r["report_id"] for r in written_links}
            for ids in in_batches(sorted(relinked - kept)):
                conn.execute(
                    delete(incident_reports).where(
                        incident_reports.c.report_id.in_(ids), incident_reports.c.scope == scope.key
                    )
                )
            written_incidents = [
                r for r in incident_rows if not _same(r, old_incidents.get(r["incident_id"]))
            ]
        stale = sorted(touched - new_ids)
        for ids in in_batches(stale):
            conn.execute(delete(incidents).where(incidents.c.incident_id.in_(ids)))
        upsert(conn, incidents, written_incidents)
        if written_links:
            conn.execute(incident_reports.insert(), written_links)  # deleted above, or new
        # counts follow every link replaced, whether or not its row had to be rewritten
        apply_link_changes(conn, scope.key, old_links.values(), links, full=full)
        moved = starts != (first_week(conn, scope.key), first_week(conn, scope.key, True))
    summary.changes = _changes(
        scope, full or moved, links, old_links, incident_rows, old_incidents, stale, seeds
    )
    stats = result.stats
    summary.reports = len(by_id)
    summary.incidents = len(incident_rows)
    summary.merged = len(by_id) - len(incident_rows)
    summary.duplicates = stats.get("duplicates", 0)
    summary.corroborated = sum(1 for r in incident_rows if (r["corroboration"] or 0) >= 2)
    summary.removed = len(stale)
    summary.refused = sum(v for k, v in stats.items() if k.endswith("_refused"))
    summary.detached = len(detached & set(by_id))
    summary.span_cuts = stats.get("span_cuts", 0)
    summary.links = {k.removesuffix("_links"): v for k, v in sorted(stats.items()) if k.endswith("_links")}
    log.info(
        "incidents [%s]: %d reports -> %d incidents (%d merged, %d duplicates, %d corroborated, %d removed); %s",
        scope,
        summary.reports,
        summary.incidents,
        summary.merged,
        summary.duplicates,
        summary.corroborated,
        summary.removed,
        summary.changes.summary(),
    )
    return summary


def _changes(
    scope: Scope,
    full: bool,
    links: list[dict],
    old_links: Mapping[str, Mapping[str, Any]],
    incident_rows: list[dict],
    old_incidents: Mapping[str, Mapping[str, Any]],
    stale: list[str],
    seeds: AbstractSet[str] = frozenset(),
) -> Changes:
    """Only what differs from before: re-clustering a neighbourhood mostly rewrites identical rows.
    The ``seeds`` (new or changed reports) always count as changed, with their incidents: their
    text, evidence or cues may differ even where their links do not."""
    new_links = {r["report_id"]: r for r in links}
    reports_changed: set[str] = set()
    weeks: set[SeriesWeek] = set()
    count_weeks: set[SeriesWeek] = set()
    incident_ids: set[str] = set(stale)
    facts = itemgetter(*_LINK_FACTS)
    counted = itemgetter(*_COUNTED_FACTS)
    for rid in new_links.keys() | old_links.keys():
        new, old = new_links.get(rid), old_links.get(rid)
        same = new is not None and old is not None and facts(new) == facts(old)
        if same and rid not in seeds:
            continue
        reports_changed.add(rid)
        recounted = new is None or old is None or rid in seeds or counted(new) != counted(old)
        for row in (new, old):
            if row is not None:
                incident_ids.add(row["incident_id"])
                if row["period_start"] is not None:
                    weeks.add((row["series_key"], row["period_start"]))
                    if recounted:
                        count_weeks.add((row["series_key"], row["period_start"]))
    for row in incident_rows:
        old = old_incidents.get(row["incident_id"])
        if old is None or any(old.get(k) != v for k, v in row.items()):
            incident_ids.add(row["incident_id"])
    for rid, row in new_links.items():  # a changed incident changes the alerts of its members' weeks
        if row["incident_id"] in incident_ids and row["period_start"] is not None:
            weeks.add((row["series_key"], row["period_start"]))
    return Changes(
        scope.key,
        full=full,
        report_ids=frozenset(reports_changed),
        incident_ids=frozenset(incident_ids - set(stale)),
        removed_incident_ids=frozenset(stale),
        series_weeks=frozenset(weeks),
        count_weeks=frozenset(count_weeks),
    )


def build_every_scope(
    engine: Engine,
    window: Window | None = None,
    *,
    report_ids: Collection[str] | None = None,
    config: ClusterConfig = ClusterConfig(),
    source_kinds: Mapping[str, SourceKind] | None = None,
) -> dict[str, IncidentSummary]:
    """``build_incidents`` for every materialised scope (a scope without rows yet is built in full);
    everything when ``window`` and ``report_ids`` are both None."""
    from biotracker.config import load_settings
    from biotracker.incidents.scopes import materialised_with_organisations, scope_has_rows

    intake = intake_sources(source_kinds)
    with engine.connect() as conn:
        scopes = materialised_with_organisations(conn, intake, load_settings().community_org)
        fresh = {s for s in scopes if not scope_has_rows(conn, s)}
    out = {}
    for scope in scopes:
        if scope in fresh:
            out[scope.key] = build_incidents(engine, config=config, scope=scope, source_kinds=source_kinds)
        else:
            out[scope.key] = build_incidents(
                engine, window, config, report_ids=report_ids, scope=scope, source_kinds=source_kinds
            )
    return out


def incident_of_report(conn: Connection, report_id: str) -> str | None:
    """The report's incident in the most visible scope that holds it (the analysts' view)."""
    from biotracker.incidents.scopes import STANDARD_SCOPES

    rows = dict(
        conn.execute(
            select(incident_reports.c.scope, incident_reports.c.incident_id).where(
                incident_reports.c.report_id == report_id
            )
        ).all()
    )
    order = [s.key for s in STANDARD_SCOPES]
    return max(rows.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else -1)[1] if rows else None


def detach_report(engine: Engine, report_id: str, note: str = "", at: dt.datetime | None = None) -> None:
    """Keep ``report_id`` out of every merge from now on (it becomes an incident of its own at the
    next ``build_incidents``). Reversible with ``reattach_report``."""
    with engine.begin() as conn:
        if conn.execute(select(reports.c.report_id).where(reports.c.report_id == report_id)).first() is None:
            raise KeyError(report_id)
        upsert(
            conn,
            incident_overrides,
            [{"report_id": report_id, "action": "detach", "note": note, "created_at": at}],
        )


def reattach_report(engine: Engine, report_id: str) -> bool:
    """Remove the override on ``report_id``; True if there was one."""
    with engine.begin() as conn:
        done = conn.execute(delete(incident_overrides).where(incident_overrides.c.report_id == report_id))
    return bool(done.rowcount)


def merge_reports(
    engine: Engine, report_id: str, with_report_id: str, note: str = "", at: dt.datetime | None = None
) -> None:
    """Link the incidents of two reports for good (an analyst's merge): every later
    ``build_incidents`` puts them in one incident. Rebuild with both incidents' reports named, so
    the incremental run sees both sides. Reversible with ``unmerge_report``."""
    with engine.begin() as conn:
        for rid in (report_id, with_report_id):
            if conn.execute(select(reports.c.report_id).where(reports.c.report_id == rid)).first() is None:
                raise KeyError(rid)
        upsert(
            conn,
            incident_merges,
            [{"report_id": report_id, "with_report_id": with_report_id, "note": note, "created_at": at}],
        )


def unmerge_report(engine: Engine, report_id: str) -> bool:
    """Remove every merge that involves ``report_id``; True if there was one."""
    with engine.begin() as conn:
        done = conn.execute(
            delete(incident_merges).where(
                (incident_merges.c.report_id == report_id) | (incident_merges.c.with_report_id == report_id)
            )
        )
    return bool(done.rowcount)


def incident_members(engine: Engine, incident_id: str) -> list[dict[str, Any]]:
    """The incident's reports with the link that brought each in, in event-time order."""
    with engine.connect() as conn:
        rows = (
            conn.execute(
                select(
                    incident_reports.c.report_id,
                    incident_reports.c.link,
                    incident_reports.c.linked_to,
                    incident_reports.c.reason,
                    incident_reports.c.duplicate_of,
                    reports.c.source,
                    reports.c.title,
                    reports.c.url,
                    func.coalesce(reports.c.observed_at, reports.c.published_at).label("at"),
                )
                .join(reports, reports.c.report_id == incident_reports.c.report_id)
                .where(incident_reports.c.incident_id == incident_id)
            )
            .mappings()
            .all()
        )
    return sorted((dict(r) for r in rows), key=lambda r: (str(r["at"]), r["report_id"]))
