"""The TLP 2.0 access policy, rule by rule, then as a property over random records and users."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from biotracker.access import (
    MarkingError,
    Principal,
    Role,
    Visibility,
    check_remarking,
    may_see,
    may_see_derived,
    visibility,
)
from biotracker.schema import Tlp

ALICE = Principal("alice", "NCB-NL", Role.ANALYST)
BOB = Principal("bob", "NCB-FR", Role.CONTRIBUTOR)
ROOT = Principal("root", "INTERPOL", Role.ADMIN)


def record(tlp: Tlp, org: str = "NCB-NL", orgs: tuple[str, ...] = (), users: tuple[str, ...] = ()) -> Visibility:
    return Visibility(tlp=tlp, originator_org=org, share_with=frozenset(orgs), share_users=frozenset(users))


def test_clear_is_for_anyone_and_for_anonymous_callers_only_where_the_deployment_allows_it():
    assert may_see(BOB, record(Tlp.CLEAR))
    assert not may_see(None, record(Tlp.CLEAR))
    assert may_see(None, record(Tlp.CLEAR), allow_anonymous=True)


@pytest.mark.parametrize("tlp", [Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED])
def test_anonymous_callers_never_see_anything_above_clear(tlp):
    assert not may_see(None, record(tlp, users=("alice",)), allow_anonymous=True)


def test_green_is_for_every_authenticated_user_of_the_community():
    assert may_see(BOB, record(Tlp.GREEN)) and may_see(ROOT, record(Tlp.GREEN))


def test_amber_is_for_the_originator_and_the_organisations_it_names():
    shared = record(Tlp.AMBER, orgs=("NCB-FR",))
    assert may_see(ALICE, shared) and may_see(BOB, shared)
    assert not may_see(ROOT, shared)


def test_amber_strict_is_for_the_originating_organisation_only_whatever_it_names():
    strict = record(Tlp.AMBER_STRICT, orgs=("NCB-FR",))
    assert may_see(ALICE, strict) and may_see(Principal("carol", "NCB-NL", Role.OPERATOR), strict)
    assert not may_see(BOB, strict)


def test_red_is_for_the_named_users_only_not_their_organisation():
    red = record(Tlp.RED, users=("alice",))
    assert may_see(ALICE, red)
    assert not may_see(Principal("carol", "NCB-NL", Role.ADMIN), red)
    assert not may_see(BOB, record(Tlp.RED, orgs=("NCB-FR",)))


def test_a_record_without_originator_comes_from_the_community_organisation_and_a_floor_raises_it():
    v = visibility("AMBER", None, community_org="community", floor=Tlp.AMBER_STRICT)
    assert v == Visibility(Tlp.AMBER_STRICT, "community")
    assert visibility(Tlp.RED, "NCB-NL", community_org="c", floor=Tlp.AMBER).tlp is Tlp.RED


def test_a_derived_item_is_visible_only_when_every_input_is():
    inputs = [record(Tlp.GREEN), record(Tlp.AMBER_STRICT, org="NCB-FR")]
    assert may_see_derived(BOB, inputs)
    assert not may_see_derived(ALICE, inputs)
    assert may_see_derived(ALICE, [])


def test_an_organisation_may_raise_but_never_lower_a_marking_it_did_not_originate():
    theirs = record(Tlp.AMBER, org="NCB-FR")
    check_remarking(ALICE, theirs, Tlp.RED)
    check_remarking(ALICE, theirs, Tlp.AMBER)
    with pytest.raises(MarkingError, match="not originate"):
        check_remarking(ALICE, theirs, Tlp.GREEN)
    check_remarking(BOB, theirs, Tlp.CLEAR)  # the originator decides


def test_roles_parse_and_refuse_unknown_names():
    assert Role.parse(" Contributor ") is Role.CONTRIBUTOR
    with pytest.raises(ValueError, match="not a role"):
        Role.parse("superuser")


# --- property: the policy against an independent statement of TLP 2.0 ------------------------------

ORGS = ["A", "B", "C", "D"]
USERS = {f"{org.lower()}{i}": org for org in ORGS for i in range(2)}

principals = st.builds(
    lambda name, role: Principal(name, USERS[name], role), st.sampled_from(sorted(USERS)), st.sampled_from(Role)
)
records = st.builds(
    record,
    st.sampled_from(Tlp),
    st.sampled_from(ORGS),
    st.lists(st.sampled_from(ORGS), max_size=3).map(tuple),
    st.lists(st.sampled_from(sorted(USERS)), max_size=3).map(tuple),
)


def audience(r: Visibility) -> set[str]:
    """Every username cleared for ``r``, listed from the TLP 2.0 definitions."""
    if r.tlp in (Tlp.CLEAR, Tlp.GREEN):
        return set(USERS)
    if r.tlp is Tlp.AMBER:
        return {u for u, org in USERS.items() if org == r.originator_org or org in r.share_with}
    if r.tlp is Tlp.AMBER_STRICT:
        return {u for u, org in USERS.items() if org == r.originator_org}
    return set(r.share_users)


@settings(max_examples=400, deadline=None)
@given(principals, records)
def test_may_see_is_exactly_membership_of_the_tlp_audience(principal, r):
    assert may_see(principal, r) == (principal.username in audience(r))


@settings(max_examples=300, deadline=None)
@given(principals, st.lists(records, max_size=5), st.sampled_from(Tlp))
def test_derived_visibility_and_remarking_never_widen_the_audience(principal, inputs, new):
    cleared = set(USERS).intersection(*(audience(r) for r in inputs)) if inputs else set(USERS)
    assert may_see_derived(principal, inputs) == (principal.username in cleared)
    for r in inputs:
        try:
            check_remarking(principal, r, new)
        except MarkingError:
            assert principal.org != r.originator_org and new.rank < r.tlp.rank
        else:
            assert principal.org == r.originator_org or new.rank >= r.tlp.rank
