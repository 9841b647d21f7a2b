"""What the policy needs from the store: the :class:`~biotracker.access.Visibility` of a report, and the
one visibility scope whose derived rows (incidents, alerts, ranks) a caller reads.

Derived data is computed per scope from only the reports that scope may see
(``incidents/scopes.py``), so a caller reads exactly one scope: the most visible materialised scope
all of whose reports the caller may see under TLP 2.0. Nothing in it exists or changes because of a
record the caller may not see, and a page of alerts is one index range of that scope, not a scan
that filters (docs/ACCESS.md, "Derived data").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import Connection

from biotracker.access import Principal, Visibility, may_see, visibility
from biotracker.db.tables import reports
from biotracker.incidents.scopes import (
    LAW_ENFORCEMENT_FLOOR,
    Scope,
    canonical,
    has_organisation_scope,
    org_scope,
    present_classes,
    scope_named,
)
from biotracker.schema import SourceKind, Tlp

#: The columns :meth:`Rules.of_report` reads.
REPORT_ACCESS_COLUMNS = (
    reports.c.report_id,
    reports.c.source,
    reports.c.tlp,
    reports.c.originator_org,
    reports.c.share_with,
    reports.c.share_users,
)
#: What a member of the community organisation reads when no organisation scope is materialised:
#: feed records up to AMBER+STRICT and law-enforcement intake (all the community's own).
COMMUNITY_READS = scope_named("le:amber+strict")
#: What a member of any other organisation reads then: what the whole community may see.
MEMBER_READS = scope_named("tlp:green")


@dataclass(frozen=True)
class Rules:
    """The deployment facts the policy is applied with."""

    community_org: str
    source_kinds: Mapping[str, SourceKind]
    allow_anonymous: bool = False
    intake: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        intake = frozenset(n for n, k in self.source_kinds.items() if k == SourceKind.LAW_ENFORCEMENT)
        object.__setattr__(self, "intake", intake)

    def of_report(self, row: Mapping) -> Visibility:
        """A report's visibility. Law-enforcement intake without an originator (drop-folder police
        reports) is at least AMBER+STRICT; a contributor's own marking is taken as given."""
        intake = row["source"] in self.intake
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


def scope_of(conn: Connection, principal: Principal, rules: Rules) -> Scope:
    """The one scope ``principal`` reads derived data from.

    An organisation with a materialised scope of its own reads it (exactly its records, RED
    excepted). Otherwise no record with an originator at AMBER or AMBER+STRICT concerns it, so the
    community organisation may see every record of :data:`COMMUNITY_READS` and any other
    organisation every record of :data:`MEMBER_READS`; each reads the materialised scope that sees
    what that scope sees. The organisation test asks what the chain asks, so an organisation whose
    scope is not built yet reads an empty scope, never a wider one.
    """
    if has_organisation_scope(conn, principal.org, rules.community_org):
        return org_scope(principal.org, rules.community_org)
    wanted = COMMUNITY_READS if principal.org == rules.community_org else MEMBER_READS
    return canonical(wanted, present_classes(conn, rules.intake))


def public_id(scope: Scope, stored_id: str) -> str:
    """The id a caller sees: the natural id, without the suffix that keeps scopes' rows apart (every
    row a caller reads is from its one scope, so the natural id names it)."""
    suffix = scope.qualify("")
    return stored_id[: -len(suffix)] if suffix and stored_id.endswith(suffix) else stored_id


def stored_id(scope: Scope, public: str) -> str:
    """The row id of ``public`` in ``scope`` (the inverse of :func:`public_id`)."""
    return scope.qualify(public)
