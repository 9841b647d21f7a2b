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

from sqlalchemy import ColumnElement, Connection, and_, func, or_, select

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
    """alert_id -> visibilities of the reports it was (or could have been) built from."""
    found: dict[str, list[Visibility]] = {}
    for alert in alert_rows:
        clauses: list[ColumnElement[bool]] = []
        if alert["incident_id"]:
            clauses.append(
                reports.c.report_id.in_(
                    select(incident_reports.c.report_id).where(
                        incident_reports.c.incident_id == alert["incident_id"]
                    )
                )
            )
        if alert["disease"] and alert["country_iso3"]:
            start = dt.datetime.combine(alert["period_start"], dt.time(), dt.UTC)
            last = alert["last_period"] or alert["period_start"]
            end = dt.datetime.combine(last, dt.time(), dt.UTC) + dt.timedelta(days=7)
            seen_at = func.coalesce(reports.c.observed_at, reports.c.published_at)
            clauses.append(
                and_(
                    func.lower(reports.c.disease) == alert["disease"].casefold(),
                    reports.c.country_iso3 == alert["country_iso3"],
                    seen_at >= start,
                    seen_at < end,
                )
            )
        if not clauses:
            found[alert["alert_id"]] = []
            continue
        rows = conn.execute(select(*REPORT_ACCESS_COLUMNS).where(or_(*clauses))).mappings()
        found[alert["alert_id"]] = [rules.of_report(r) for r in rows]
    return found


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
