"""What the policy needs from the store: the :class:`~biotracker.access.Visibility` of reports and of
what each alert was built from.

An alert's inputs are taken wide on purpose (as ``biotracker.outputs.records`` does): the reports
of its incident and every report of its disease and country in the weeks it covers. An alert is
shown only when the caller may see every one of them, so no alert exists for a user because of a
record that user may not see. (When per-audience derived scopes exist, the alert list reads them
instead: see docs/ACCESS.md.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from biotracker.access import Principal, Visibility, may_see, may_see_derived, visibility
from biotracker.db.tables import incident_reports, reports
from biotracker.schema import SourceKind, Tlp

#: The least restrictive marking law-enforcement intake of no known originator can carry.
LAW_ENFORCEMENT_FLOOR = Tlp.AMBER_STRICT

REPORT_ACCESS_COLUMNS = (
    reports.c.report_id,
    reports.c.source,
    reports.c.tlp,
    reports.c.originator_org,
    reports.c.share_with,
    reports.c.share_users,
)


@dataclass(frozen=True)
class Rules:
    """The deployment facts the policy is applied with."""

    community_org: str
    source_kinds: Mapping[str, SourceKind]
    allow_anonymous: bool = False

    def of_report(self, row: Mapping) -> Visibility:
        """A report's visibility. Law-enforcement intake without an originator (drop-folder police
        reports) is at least AMBER+STRICT; a contributor's own marking is taken as given."""
        intake = self.source_kinds.get(row["source"]) == SourceKind.LAW_ENFORCEMENT
        floor = LAW_ENFORCEMENT_FLOOR if intake and not row["originator_org"] else Tlp.CLEAR
        return visibility(
            row["tlp"],
            row["originator_org"],
            community_org=self.community_org,
            share_with=row["share_with"],
            share_users=row["share_users"],
            floor=floor,
        )

    def sees(self, principal: Principal | None, record: Visibility) -> bool:
        return may_see(principal, record, allow_anonymous=self.allow_anonymous)


def alert_inputs(
    conn: Connection, rules: Rules, alert_rows: Iterable[Mapping]
) -> dict[str, list[Visibility]]:
    """alert_id -> visibilities of the reports it was (or could have been) built from.

    Two queries for the whole batch (incident members; reports of the alerts' countries and
    diseases in the weeks they span), then each alert takes its own share.
    """
    rows = list(alert_rows)
    found: dict[str, list[Visibility]] = {a["alert_id"]: [] for a in rows}
    incident_ids = {a["incident_id"] for a in rows if a["incident_id"]}
    if incident_ids:
        members = select(incident_reports.c.incident_id, *REPORT_ACCESS_COLUMNS).join(
            reports, reports.c.report_id == incident_reports.c.report_id
        )
        by_incident: dict[str, list[Visibility]] = {}
        for r in conn.execute(members.where(incident_reports.c.incident_id.in_(incident_ids))).mappings():
            by_incident.setdefault(r["incident_id"], []).append(rules.of_report(r))
        for a in rows:
            found[a["alert_id"]] += by_incident.get(a["incident_id"], [])
    topical = [a for a in rows if a["disease"] and a["country_iso3"]]
    if not topical:
        return found
    spans = {a["alert_id"]: _weeks(a) for a in topical}
    seen_at = func.coalesce(reports.c.observed_at, reports.c.published_at)
    query = select(
        *REPORT_ACCESS_COLUMNS,
        func.lower(reports.c.disease).label("topic"),
        reports.c.country_iso3,
        seen_at.label("seen_at"),
    ).where(
        reports.c.country_iso3.in_({a["country_iso3"] for a in topical}),
        func.lower(reports.c.disease).in_({a["disease"].casefold() for a in topical}),
        seen_at >= min(start for start, _ in spans.values()),
        seen_at < max(end for _, end in spans.values()),
    )
    by_topic: dict[tuple[str, str], list[tuple[dt.datetime, Visibility]]] = {}
    for r in conn.execute(query).mappings():
        when = r["seen_at"] if r["seen_at"].tzinfo else r["seen_at"].replace(tzinfo=dt.UTC)
        by_topic.setdefault((r["topic"], r["country_iso3"]), []).append((when, rules.of_report(r)))
    for a in topical:
        start, end = spans[a["alert_id"]]
        candidates = by_topic.get((a["disease"].casefold(), a["country_iso3"]), [])
        found[a["alert_id"]] += [v for when, v in candidates if start <= when < end]
    return found


def _weeks(alert: Mapping) -> tuple[dt.datetime, dt.datetime]:
    """[first week's Monday, the Monday after the last week) of an alert."""
    start = dt.datetime.combine(alert["period_start"], dt.time(), dt.UTC)
    last = alert["last_period"] or alert["period_start"]
    return start, dt.datetime.combine(last, dt.time(), dt.UTC) + dt.timedelta(days=7)


def alert_visible(
    principal: Principal | None, rules: Rules, alert: Mapping, inputs: list[Visibility]
) -> tuple[bool, Tlp]:
    """Whether ``principal`` may see the alert, and the marking it shows (its own or its inputs', the stricter).

    The alert's own marking is judged on its own only where it is stricter than everything behind it
    (someone raised it); it then belongs to the community organisation that derived it.
    """
    own = Tlp(alert["tlp"])
    widest_input = max((v.tlp for v in inputs), key=lambda m: m.rank, default=Tlp.CLEAR)
    marking = own if own.rank > widest_input.rank else widest_input
    if not may_see_derived(principal, inputs, allow_anonymous=rules.allow_anonymous):
        return False, marking
    if own.rank > widest_input.rank and not rules.sees(principal, Visibility(own, rules.community_org)):
        return False, marking
    return True, marking
