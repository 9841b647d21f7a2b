"""Organisation scopes: what ``org:<NAME>`` admits is what that organisation may see under TLP 2.0
(RED excepted), and the chain materialises one exactly for the organisations restricted
contributions concern (and the community once another organisation's exist)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import insert

from biotracker.config import load_settings
from biotracker.db.engine import open_store
from biotracker.db.tables import reports
from biotracker.incidents.scopes import (
    STANDARD_SCOPES,
    has_organisation_scope,
    org_scope,
    organisation_scopes,
    scope_named,
)

COMMUNITY = "community"
INTAKE = {"police_reports", "contributions"}


def row(tlp: str, source: str = "who_don", originator: str | None = None, share_with=None, withdrawn=None):
    return {"tlp": tlp, "source": source, "originator_org": originator, "share_with": share_with,
            "withdrawn_at": withdrawn}


@pytest.mark.parametrize(("org", "record", "admitted"), [
    ("NCB-NL", row("CLEAR"), True),
    ("NCB-NL", row("GREEN", "contributions", "NCB-FR"), True),
    ("NCB-NL", row("AMBER"), False),  # a feed's AMBER record is the community's
    (COMMUNITY, row("AMBER"), True),
    (COMMUNITY, row("CLEAR", "police_reports"), True),  # intake: AMBER+STRICT of the community
    ("NCB-NL", row("CLEAR", "police_reports"), False),
    ("NCB-NL", row("AMBER+STRICT", "contributions", "NCB-NL"), True),
    ("NCB-FR", row("AMBER+STRICT", "contributions", "NCB-NL"), False),
    (COMMUNITY, row("AMBER+STRICT", "contributions", "NCB-NL"), False),
    ("NCB-FR", row("AMBER", "contributions", "NCB-NL", ["NCB-FR"]), True),
    ("INTERPOL", row("AMBER", "contributions", "NCB-NL", ["NCB-FR"]), False),
    ("NCB-NL", row("RED", "contributions", "NCB-NL"), False),  # RED feeds no organisation scope
    ("NCB-NL", row("CLEAR", withdrawn=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)), False),
])
def test_an_organisation_scope_admits_what_the_organisation_may_see(org, record, admitted):
    assert org_scope(org, COMMUNITY).admits(record, INTAKE) is admitted


LE_SCOPES = ["le:amber+strict", "le:red"]


@pytest.mark.parametrize(("record", "standard", "orgs"), [
    # another organisation's AMBER, shared with nobody: its own scope only
    (row("AMBER", "contributions", "NCB-NL", []), [], ["NCB-NL"]),
    (row("AMBER", "contributions", "NCB-NL", ["NCB-FR"]), [], ["NCB-NL", "NCB-FR"]),
    # shared with the community: the community's views (every law-enforcement scope: contributions are intake)
    (row("AMBER", "contributions", "NCB-NL", [COMMUNITY]), LE_SCOPES, ["NCB-NL", COMMUNITY]),
    (row("AMBER+STRICT", "contributions", "NCB-NL"), [], ["NCB-NL"]),
    (row("AMBER+STRICT", "contributions", COMMUNITY), LE_SCOPES, [COMMUNITY]),
    (row("RED", "contributions", "NCB-NL"), [], []),  # named users read it as a record, never derived
    (row("RED", "contributions", COMMUNITY), [], []),
    (row("GREEN", "contributions", "NCB-NL"), LE_SCOPES, ["NCB-NL", "NCB-FR", COMMUNITY]),
    (row("RED"), ["tlp:red", "le:red"], []),  # no originator: the marking rules, as before
])
def test_standard_scopes_are_the_community_s_view_of_contributions(record, standard, orgs):
    assert [s.key for s in STANDARD_SCOPES if s.admits(record, INTAKE, COMMUNITY)] == standard
    assert [o for o in ("NCB-NL", "NCB-FR", COMMUNITY) if org_scope(o, COMMUNITY).admits(record, INTAKE)] == orgs


def test_the_community_scope_admits_what_its_standard_scope_admits():
    community, standard = org_scope(COMMUNITY, COMMUNITY), scope_named("le:amber+strict")
    records = [row(t, source, originator, share)
               for t in ("CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED")
               for source in ("who_don", "police_reports", "contributions")
               for originator, share in ((None, None), ("NCB-NL", []), ("NCB-NL", [COMMUNITY]), (COMMUNITY, []))
               if originator is None or source == "contributions"]
    assert [community.admits(r, INTAKE) for r in records] == [standard.admits(r, INTAKE, COMMUNITY) for r in records]


def test_the_chain_puts_an_unshared_foreign_contribution_in_its_organisation_s_scope_only(database_url, tmp_path):
    from sqlalchemy import select

    from biotracker.db.tables import incident_reports
    from biotracker.incidents.build import build_every_scope

    engine = open_store(load_settings({}, home=str(tmp_path), **({"database_url": database_url} if database_url else {})))
    now = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
    with engine.begin() as conn:
        for rid, source, tlp, originator, share in [
            ("who_don:1", "who_don", "CLEAR", None, None),
            ("contributions:nl", "contributions", "AMBER", "NCB-NL", []),
            ("contributions:shared", "contributions", "AMBER", "NCB-NL", [COMMUNITY]),
            ("contributions:fr", "contributions", "AMBER+STRICT", "NCB-FR", None),
        ]:
            conn.execute(insert(reports).values(
                report_id=rid, source=source, source_id=rid, title="Anthrax in cattle near Utrecht", summary="",
                text="", language="en", tlp=tlp, evidence={}, published_at=now, disease="anthrax",
                country_iso3="NLD", originator_org=originator, share_with=share))
    build_every_scope(engine)
    with engine.connect() as conn:
        scopes: dict[str, set[str]] = {}
        for rid, key in conn.execute(select(incident_reports.c.report_id, incident_reports.c.scope)):
            scopes.setdefault(rid, set()).add(key)
    engine.dispose()
    assert scopes["contributions:nl"] == {"org:NCB-NL"}
    assert scopes["contributions:fr"] == {"org:NCB-FR"}
    assert scopes["contributions:shared"] == {"org:NCB-NL", f"org:{COMMUNITY}", "le:amber+strict"}
    assert "tlp:clear" in scopes["who_don:1"] and "le:amber+strict" in scopes["who_don:1"]


def test_organisation_scope_keys_name_their_scope_in_every_process():
    scope = scope_named("org:NCB-NL", COMMUNITY)
    assert scope == org_scope("NCB-NL", COMMUNITY) and scope.org == "NCB-NL" and not scope.law_enforcement
    assert scope_named(f"org:{COMMUNITY}", COMMUNITY).law_enforcement, "the community sees its intake"
    assert scope.qualify("alert-1") != "alert-1", "an organisation's rows never share an id with another scope's"
    with pytest.raises(KeyError):
        scope_named("org:")


def test_the_chain_and_a_request_agree_on_which_organisations_have_a_scope(database_url, tmp_path):
    engine = open_store(load_settings({}, home=str(tmp_path), **({"database_url": database_url} if database_url else {})))
    now = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)

    def add(i: int, tlp: str, originator: str | None, share_with=None) -> None:
        with engine.begin() as conn:
            conn.execute(insert(reports).values(
                report_id=f"contributions:{i}", source="contributions", source_id=str(i), title="t", summary="",
                text="", language="en", tlp=tlp, evidence={}, published_at=now, originator_org=originator,
                share_with=share_with))

    def both() -> tuple[set[str], set[str]]:
        with engine.connect() as conn:
            listed = {s.org for s in organisation_scopes(conn, COMMUNITY)}
            asked = {o for o in ("NCB-NL", "NCB-FR", "INTERPOL", COMMUNITY) if has_organisation_scope(conn, o, COMMUNITY)}
        return {o for o in listed if o}, asked

    assert both() == (set(), set())
    add(1, "GREEN", "NCB-NL")  # open to everyone: no organisation needs a scope of its own
    assert both() == (set(), set())
    add(2, "AMBER", "NCB-NL", ["NCB-FR"])
    expected = {"NCB-NL", "NCB-FR", COMMUNITY}
    assert both() == (expected, expected)
    engine.dispose()
