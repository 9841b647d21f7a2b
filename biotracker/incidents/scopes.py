"""Visibility scopes: every derived row (incident, link, signal, assessment, alert) belongs to one.

A scope names who may see the derived data and therefore which reports it may be computed from.
Derived data is computed per scope from only the reports that scope may see, so nothing an
audience may not see can change what it is shown: not an incident's report count, not a series'
count or expected value, not "reported in 3 countries the same week", not whether an alert exists
(issue 12, item 4). Outputs for an audience read the scope matching its clearance
(``outputs/audience.py`` decides the clearance).

A scope is a key, not a closed enum: today's keys are ``tlp:<marking>`` (records up to that TLP
marking, no law-enforcement intake) and ``le:<marking>`` (law-enforcement audiences: intake
records too), both the community organisation's views (a contribution feeds them only when the
community may see it: :func:`originator_allows`), and ``org:<name>`` (one organisation of the
shared repository: exactly the records that organisation may see under the TLP 2.0 policy,
``access/policy.py``, minus TLP:RED; only feed RED records reach the analysts' own view). Organisation scopes are materialised only for
organisations that originate, or are named on, TLP:AMBER / AMBER+STRICT records with an originator
(contributions), and for the community organisation once another organisation's exist
(:func:`organisation_scopes`); every other organisation reads a standard scope (docs/ACCESS.md).

Only scopes whose visible records differ are computed (*materialised*): when no GREEN report
exists, ``tlp:green`` sees exactly what ``tlp:clear`` sees and reads its rows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Text, and_, exists, false, or_, select, true

from biotracker.access import Principal, Role, may_see, visibility
from biotracker.db.tables import incident_reports, reports
from biotracker.schema import SourceKind, Tlp, most_restrictive

#: The least restrictive marking a law-enforcement intake record can carry in any output.
LAW_ENFORCEMENT_FLOOR = Tlp.AMBER_STRICT
_ORDER = (Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED)


@dataclass(frozen=True)
class Scope:
    """Who may see a derived row: records up to ``clearance``, and intake records if ``law_enforcement``."""

    key: str
    clearance: Tlp
    law_enforcement: bool = False
    #: an organisation scope (``org:<name>``): the records this organisation may see, RED excepted;
    #: ``law_enforcement`` then says it is the community organisation (it originates every record
    #: without an originator of its own: feed records and law-enforcement intake)
    org: str | None = None

    def sees(self, tlp: Tlp, intake: bool) -> bool:
        """May this scope use a record marked ``tlp`` (``intake``: from a law-enforcement channel)?"""
        if intake:
            return self.law_enforcement and self.clearance.allows(
                most_restrictive([tlp, LAW_ENFORCEMENT_FLOOR])
            )
        return self.clearance.allows(tlp)

    def admits(
        self, row: Mapping[str, Any], intake_sources: Collection[str], community_org: str | None = None
    ) -> bool:
        """May this scope use the report ``row`` (a ``reports`` row; the access columns optional)?

        A standard scope is the community organisation's view (``community_org``, default: the
        configured one): a record with an originator (a contribution) feeds it only when a member of
        the community may see it, so another organisation's unshared AMBER, its AMBER+STRICT and
        every RED contribution stay out. Records without an originator keep the marking rules."""
        if row.get("withdrawn_at") is not None:
            return False
        intake = row["source"] in intake_sources
        if self.org is None:
            if not self.sees(Tlp(row["tlp"]), intake):
                return False
            community = configured_community_org() if community_org is None else community_org
            return originator_allows(community, row, community)
        # records without an originator belong to the community organisation ("" names nobody)
        return member_may_use(
            self.org, row, community_org=self.org if self.law_enforcement else "", intake=intake
        )

    def sees_all_of(self, other: Scope) -> bool:
        """True when every report ``other`` may use, this scope may use too."""
        return _within(other, self)

    @property
    def is_public(self) -> bool:
        return self == PUBLIC

    def qualify(self, natural_id: str) -> str:
        """The id a derived row gets in this scope: the natural id in the analysts' own scope
        (:data:`INTERNAL`), a suffix naming the scope elsewhere, so scopes never share a row. Ids
        depend on the scope's key and its own records only, never on what other scopes see."""
        if self == INTERNAL:
            return natural_id
        return f"{natural_id}~{hashlib.sha256(self.key.encode()).hexdigest()[:10]}"

    def visible(self, intake_sources: Collection[str]) -> ColumnElement[bool]:
        """SQL predicate on ``reports``: the reports this scope may use (never a withdrawn one: a
        tombstone leaves every derived view). For an organisation scope it admits a superset that
        :meth:`admits` narrows (share lists are JSON, compared in Python)."""
        if self.org is not None:
            mine = [reports.c.originator_org == self.org, reports.c.share_with.is_not(None)]
            if self.law_enforcement:
                mine.append(reports.c.originator_org.is_(None))
            return and_(
                reports.c.withdrawn_at.is_(None),
                reports.c.tlp != Tlp.RED.value,
                or_(reports.c.tlp.in_([Tlp.CLEAR.value, Tlp.GREEN.value]), *mine),
            )
        plain = [t.value for t in _ORDER if self.sees(t, False)]
        intake = [t.value for t in _ORDER if self.sees(t, True)]
        not_intake = reports.c.source.not_in(sorted(intake_sources)) if intake_sources else true()
        clauses = [and_(not_intake, reports.c.tlp.in_(plain))]
        if intake and intake_sources:
            clauses.append(and_(reports.c.source.in_(sorted(intake_sources)), reports.c.tlp.in_(intake)))
        return and_(reports.c.withdrawn_at.is_(None), or_(*clauses)) if clauses else false()

    def __str__(self) -> str:
        return self.key


def member_may_use(org: str, row: Mapping[str, Any], *, community_org: str, intake: bool) -> bool:
    """May derived data a member of ``org`` reads be computed from (or an output list) the report
    ``row``: what the policy lets that member see (``access/policy.py``), TLP:RED excepted (named
    users read RED records one by one through the API, never in derived data or outputs)."""
    originator = row.get("originator_org")
    record = visibility(
        row["tlp"],
        originator,
        community_org=community_org,
        share_with=_names(row.get("share_with")),
        floor=LAW_ENFORCEMENT_FLOOR if intake and not originator else Tlp.CLEAR,
    )
    member = Principal(username="", org=org, role=Role.ANALYST)
    return record.tlp is not Tlp.RED and may_see(member, record)


def originator_allows(org: str, row: Mapping[str, Any], community_org: str) -> bool:
    """May a view of organisation ``org`` (the community's: the standard scopes and every CLI output)
    use the report ``row`` as far as its originator is concerned? A record without an originator is
    the community's own (its marking alone decides where it goes); a contribution only when a member
    of ``org`` may see it (:func:`member_may_use`)."""
    if not row.get("originator_org"):
        return True
    return member_may_use(org, row, community_org=community_org, intake=False)


def configured_community_org() -> str:
    from biotracker.config import load_settings

    return load_settings().community_org


def _standard() -> tuple[Scope, ...]:
    plain = [Scope(f"tlp:{t.value.lower()}", t) for t in _ORDER]
    law = [Scope(f"le:{t.value.lower()}", t, True) for t in _ORDER if t.rank >= LAW_ENFORCEMENT_FLOOR.rank]
    # Ordered so that each scope comes after every scope that sees less than it.
    return (*plain[:4], law[0], plain[4], law[1])


#: Every scope an audience can map to, least visible first.
STANDARD_SCOPES: tuple[Scope, ...] = _standard()
PUBLIC = STANDARD_SCOPES[0]
#: The analysts' own view (``outputs.audience.INTERNAL``): everything.
INTERNAL = STANDARD_SCOPES[-1]
_BY_KEY = {s.key: s for s in STANDARD_SCOPES}


ORG_PREFIX = "org:"


def org_scope(org: str, community_org: str | None = None) -> Scope:
    """The scope of organisation ``org`` (``community_org`` default: the configured one)."""
    if community_org is None:
        community_org = configured_community_org()
    return Scope(f"{ORG_PREFIX}{org}", Tlp.AMBER_STRICT, org == community_org, org=org)


def scope_named(key: str, community_org: str | None = None) -> Scope:
    if key.startswith(ORG_PREFIX) and len(key) > len(ORG_PREFIX):
        return org_scope(key[len(ORG_PREFIX) :], community_org)
    try:
        return _BY_KEY[key]
    except KeyError:
        raise KeyError(f"unknown scope {key!r}; known: {sorted(_BY_KEY)} and org:<name>") from None


def scope_for(clearance: Tlp, law_enforcement: bool) -> Scope:
    """The standard scope of an audience cleared for ``clearance`` (law-enforcement or not)."""
    le = law_enforcement and clearance.rank >= LAW_ENFORCEMENT_FLOOR.rank
    return _BY_KEY[f"{'le' if le else 'tlp'}:{clearance.value.lower()}"]


def intake_sources(kinds: Mapping[str, SourceKind] | None = None) -> frozenset[str]:
    """Connector names that are law-enforcement intake channels (default: from the registry)."""
    if kinds is None:
        from biotracker.ingest.registry import connector_classes

        kinds = {name: cls.kind for name, cls in connector_classes().items()}
    return frozenset(n for n, k in kinds.items() if k == SourceKind.LAW_ENFORCEMENT)


Visibility = tuple[str, bool]  # (TLP value, from a law-enforcement intake channel)


def present_classes(conn: Connection, intake: Collection[str]) -> frozenset[Visibility]:
    """Which (marking, intake) classes of reports exist: ten index probes, not a scan."""
    found = set()
    for t in _ORDER:
        for is_intake in (False, True):
            if is_intake and not intake:
                continue
            where = (
                reports.c.source.in_(sorted(intake)) if is_intake else reports.c.source.not_in(sorted(intake))
            )
            if conn.execute(select(exists().where(reports.c.tlp == t.value, where))).scalar():
                found.add((t.value, is_intake))
    return frozenset(found)


def canonical(scope: Scope, present: Iterable[Visibility]) -> Scope:
    """The least visible standard scope that sees exactly the reports ``scope`` sees: the scope whose
    rows ``scope`` reads (equal inputs give equal derived data)."""
    classes = list(present)

    def seen(s: Scope) -> frozenset[Visibility]:
        return frozenset(c for c in classes if s.sees(Tlp(c[0]), c[1]))

    target = seen(scope)
    return next(s for s in STANDARD_SCOPES if seen(s) == target and _within(s, scope))


def _within(smaller: Scope, larger: Scope) -> bool:
    return smaller.clearance.rank <= larger.clearance.rank and (
        larger.law_enforcement or not smaller.law_enforcement
    )


def materialised_scopes(present: Iterable[Visibility]) -> list[Scope]:
    """The scopes with derived rows of their own, least visible first (always the public one)."""
    classes = list(present)
    return sorted({canonical(s, classes) for s in STANDARD_SCOPES}, key=STANDARD_SCOPES.index)


def scope_has_rows(conn: Connection, scope: Scope) -> bool:
    return bool(conn.execute(select(exists().where(incident_reports.c.scope == scope.key))).scalar())


#: Markings at which an originator's records reach only some organisations (RED feeds no scope but
#: the analysts' own).
_ORG_BOUND = (Tlp.AMBER.value, Tlp.AMBER_STRICT.value)
_HAS_ORIGINATOR = (reports.c.originator_org.is_not(None), reports.c.tlp.in_(_ORG_BOUND))


def organisation_scopes(conn: Connection, community_org: str) -> list[Scope]:
    """The organisation scopes to materialise: every organisation that originates, or is named in the
    share list of, a TLP:AMBER / AMBER+STRICT record with an originator (withdrawn ones included, so
    a scope does not flip back before the chain has removed the record), and the community
    organisation as soon as one of them is another organisation's (its scope then admits exactly what
    ``le:amber+strict`` admits). One query over the records with an originator."""
    rows = conn.execute(
        select(reports.c.originator_org, reports.c.tlp, reports.c.share_with).where(*_HAS_ORIGINATOR)
    ).all()
    names = {r.originator_org for r in rows}
    for r in rows:
        if r.tlp == Tlp.AMBER.value:
            names.update(_names(r.share_with))
    if names - {community_org}:
        names.add(community_org)
    return [org_scope(n, community_org) for n in sorted(names)]


def has_organisation_scope(conn: Connection, org: str, community_org: str) -> bool:
    """Whether :func:`organisation_scopes` includes ``org``'s scope, asked with index probes (what a
    request asks; the chain asks for the whole list)."""
    if org == community_org:
        foreign = reports.c.originator_org != community_org
        return bool(conn.execute(select(exists().where(*_HAS_ORIGINATOR, foreign))).scalar()) or bool(
            conn.execute(select(exists().where(*_HAS_ORIGINATOR, reports.c.originator_org == org))).scalar()
        )
    if conn.execute(select(exists().where(*_HAS_ORIGINATOR, reports.c.originator_org == org))).scalar():
        return True
    # share lists are JSON: a text match narrows the rows, the parsed list decides
    named = reports.c.share_with.cast(Text).contains(json.dumps(org), autoescape=True)
    shared = select(reports.c.share_with).where(*_HAS_ORIGINATOR, reports.c.tlp == Tlp.AMBER.value, named)
    return any(org in _names(value) for value in conn.execute(shared).scalars())


def _names(share_with: object) -> set[str]:
    if isinstance(share_with, str):  # a driver that hands JSON back as text
        share_with = json.loads(share_with)
    return {str(n) for n in share_with} if isinstance(share_with, list | tuple | set | frozenset) else set()


def materialised_with_organisations(
    conn: Connection, intake: Collection[str], community_org: str
) -> list[Scope]:
    """Every scope with derived rows of its own: the standard ones, then the organisations'."""
    return materialised_scopes(present_classes(conn, intake)) + organisation_scopes(conn, community_org)
