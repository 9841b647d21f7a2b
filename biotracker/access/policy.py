"""FIRST TLP 2.0 for a shared repository: one function decides whether a principal may see a record.

The marking says how far a record may travel; the originator and its share lists say to whom:

==============  ==================================================================================
CLEAR           anyone; an anonymous caller only where the deployment allows anonymous access
GREEN           every authenticated user of the community (every user of this deployment)
AMBER           users of the originating organisation and of the organisations it names
AMBER+STRICT    users of the originating organisation only
RED             the users the originator names, nobody else (not even the rest of its organisation)
==============  ==================================================================================

Roles do not widen what anyone sees: an admin of one organisation is not cleared for another's
AMBER+STRICT records. Derived data (an alert built from reports) is visible only when every record
it was built from is (:func:`may_see_derived`), so nothing exists or changes for a user because of a
record that user may not see. Kept free of I/O and of the database so every layer can call it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from biotracker.errors import BiotrackerError
from biotracker.schema import Tlp


class Role(str, Enum):
    """What a user may do; what a user may *see* is the policy's business, not the role's."""

    ANALYST = "analyst"
    CONTRIBUTOR = "contributor"
    OPERATOR = "operator"
    ADMIN = "admin"

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise ValueError(f"{text!r} is not a role; use one of {[r.value for r in cls]}") from None


class MarkingError(BiotrackerError):
    """A marking change the policy forbids (an organisation lowering a marking it did not originate)."""


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a user of one organisation with one role."""

    username: str
    org: str
    role: Role


@dataclass(frozen=True)
class Visibility:
    """What the policy needs to know about one record: its marking, originator and share lists."""

    tlp: Tlp
    originator_org: str
    share_with: frozenset[str] = frozenset()
    share_users: frozenset[str] = frozenset()


def visibility(
    tlp: Tlp | str,
    originator_org: str | None,
    *,
    community_org: str,
    share_with: Iterable[str] | None = None,
    share_users: Iterable[str] | None = None,
    floor: Tlp = Tlp.CLEAR,
) -> Visibility:
    """A record's :class:`Visibility` from stored values.

    A record with no originator (every feed record) originates from ``community_org``; ``floor``
    raises the marking (law-enforcement intake is at least AMBER+STRICT whatever it declares).
    """
    marking = tlp if isinstance(tlp, Tlp) else Tlp.parse(tlp)
    if floor.rank > marking.rank:
        marking = floor
    return Visibility(
        tlp=marking,
        originator_org=originator_org or community_org,
        share_with=frozenset(share_with or ()),
        share_users=frozenset(share_users or ()),
    )


def may_see(principal: Principal | None, record: Visibility, *, allow_anonymous: bool = False) -> bool:
    """True when ``principal`` (None: an anonymous caller) may see ``record`` under TLP 2.0."""
    if principal is None:
        return allow_anonymous and record.tlp is Tlp.CLEAR
    if record.tlp in (Tlp.CLEAR, Tlp.GREEN):
        return True
    if record.tlp is Tlp.AMBER:
        return principal.org == record.originator_org or principal.org in record.share_with
    if record.tlp is Tlp.AMBER_STRICT:
        return principal.org == record.originator_org
    return principal.username in record.share_users


def may_see_derived(
    principal: Principal | None, inputs: Iterable[Visibility], *, allow_anonymous: bool = False
) -> bool:
    """A derived item (alert, incident, count) is visible only when every record behind it is."""
    return all(may_see(principal, record, allow_anonymous=allow_anonymous) for record in inputs)


def check_remarking(principal: Principal, record: Visibility, new: Tlp) -> None:
    """Raise :class:`MarkingError` unless ``principal`` may mark ``record`` as ``new``.

    The originator may set any marking; any other organisation may raise it, never lower it.
    """
    if principal.org == record.originator_org or new.rank >= record.tlp.rank:
        return
    raise MarkingError(
        f"{principal.org} did not originate this record: it may raise its marking above {record.tlp} "
        f"but not lower it to {new}; ask the originator ({record.originator_org}) to change it"
    )
