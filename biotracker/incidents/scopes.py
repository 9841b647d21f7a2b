"""Visibility scopes: every derived row (incident, link, signal, assessment, alert) belongs to one.

A scope names who may see the derived data and therefore which reports it may be computed from.
Derived data is computed per scope from only the reports that scope may see, so nothing an
audience may not see can change what it is shown: not an incident's report count, not a series'
count or expected value, not "reported in 3 countries the same week", not whether an alert exists
(issue 12, item 4). Outputs for an audience read the scope matching its clearance
(``outputs/audience.py`` decides the clearance).

A scope is a key, not a closed enum: today's keys are ``tlp:<marking>`` (records up to that TLP
marking, no law-enforcement intake) and ``le:<marking>`` (law-enforcement audiences: intake
records too); a later ``org:<name>`` scope can name an organisation's sharing.

Only scopes whose visible records differ are computed (*materialised*): when no GREEN report
exists, ``tlp:green`` sees exactly what ``tlp:clear`` sees and reads its rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, and_, exists, false, or_, select, true

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

    def sees(self, tlp: Tlp, intake: bool) -> bool:
        """May this scope use a record marked ``tlp`` (``intake``: from a law-enforcement channel)?"""
        if intake:
            return self.law_enforcement and self.clearance.allows(
                most_restrictive([tlp, LAW_ENFORCEMENT_FLOOR])
            )
        return self.clearance.allows(tlp)

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
        tombstone leaves every derived view)."""
        plain = [t.value for t in _ORDER if self.sees(t, False)]
        intake = [t.value for t in _ORDER if self.sees(t, True)]
        not_intake = reports.c.source.not_in(sorted(intake_sources)) if intake_sources else true()
        clauses = [and_(not_intake, reports.c.tlp.in_(plain))]
        if intake and intake_sources:
            clauses.append(and_(reports.c.source.in_(sorted(intake_sources)), reports.c.tlp.in_(intake)))
        return and_(reports.c.withdrawn_at.is_(None), or_(*clauses)) if clauses else false()

    def __str__(self) -> str:
        return self.key


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


def scope_named(key: str) -> Scope:
    try:
        return _BY_KEY[key]
    except KeyError:
        raise KeyError(f"unknown scope {key!r}; known: {sorted(_BY_KEY)}") from None


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
