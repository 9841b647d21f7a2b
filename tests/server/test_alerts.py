"""The alert list through the policy: contract shape, cursor pagination and filters on the demo's
alerts, and the contribution round trip (post -> archived raw -> normalised -> clustered -> scored ->
alert visible to the contributing organisation only)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import exists, func, select

from biotracker.db.tables import alerts, reports
from biotracker.schema import Window, as_utc
from tests.server.conftest import LiveServer, server_settings

INTAKE = {"police_reports", "contributions"}
CONTRACT_FIELDS = {"alert_id", "tier", "status", "disease", "country_iso3", "tlp"}


def walk(live: LiveServer, user: str, **params: object) -> list[dict]:
    """Every page of the alert list, following ``next``."""
    items, cursor = [], None
    with live.client(user) as client:
        while True:
            page = client.get("/api/v1/alerts", params={**params, "limit": 7, **({"cursor": cursor} if cursor else {})})
            assert page.status_code == 200, page.text
            body = page.json()
            assert set(body) == {"items", "next"}
            items += body["items"]
            cursor = body["next"]
            if cursor is None:
                return items


@pytest.fixture
def demo_server(start_server, demo_copy) -> LiveServer:
    settings = dataclasses.replace(demo_copy, server_secret_key="test-secret", login_max_failures=3)
    return start_server(settings)


def test_the_demo_alerts_page_through_with_cursors_and_filter_consistently(demo_server):
    everything = walk(demo_server, "nl_analyst")
    assert everything, "the demo's feed alerts are visible to an authenticated analyst"
    assert all(CONTRACT_FIELDS <= set(item) for item in everything)
    ids = [i["alert_id"] for i in everything]
    assert len(ids) == len(set(ids)), "pages neither repeat nor skip"
    with demo_server.engine.connect() as conn:
        # a member organisation reads what the whole community may see: CLEAR and GREEN feed records
        green = conn.execute(select(exists().where(reports.c.tlp == "GREEN", reports.c.source.not_in(INTAKE)))).scalar()
        scope = "tlp:green" if green else "tlp:clear"
        stored = {r.alert_id.split("~")[0]: r for r in conn.execute(select(alerts).where(alerts.c.scope == scope))}
        every = conn.execute(select(func.count()).select_from(alerts)).scalar()
    assert set(ids) == set(stored), "a member reads its scope's alerts, by their natural ids"
    for item in everything:
        assert item["tier"] == stored[item["alert_id"]].tier
    sample = everything[0]
    for key, param in (("tier", "tier"), ("status", "status"), ("country_iso3", "country"), ("disease", "disease")):
        if sample[key] is None:
            continue
        filtered = walk(demo_server, "nl_analyst", **{param: sample[key]})
        assert sample["alert_id"] in {i["alert_id"] for i in filtered}
        assert all(i[key] == sample[key] or (key == "disease" and i[key].casefold() == sample[key].casefold())
                   for i in filtered)
    assert walk(demo_server, "fr_analyst") == everything, "feed alerts are the same for every organisation"
    # alerts resting on police drop-folder reports (law-enforcement intake, RED, no named users) show to nobody
    assert not [i for i in everything if i["rule"] == "law-enforcement-intake"]
    print(f"\ndemo alerts: {every} stored over every scope, {len(ids)} visible to a member analyst")


def derive_every_scope(live: LiveServer) -> None:
    """The pipeline's derive steps, every visibility scope (organisation scopes included), as the chain runs them."""
    from biotracker.alerts.refresh import refresh_derived

    window = Window(as_utc("2025-01-01"), as_utc(dt.date(2026, 12, 7)))
    refresh_derived(live.engine, window, live.settings.home / "models", published=window)


def contribute_anthrax(live: LiveServer, user: str = "nl_contrib") -> str:
    """A contributor posts one report (default marking AMBER+STRICT); returns its id."""
    posted = live.client(user).post("/api/v1/reports", json={
        "title": "Anthrax in cattle on a farm near Utrecht",
        "text": "Three cattle died of anthrax; Bacillus anthracis confirmed.",
        "country_iso3": "NLD",
        "reported_at": "2026-11-25T10:00:00Z",
    })
    assert posted.status_code == 201, posted.text
    return posted.json()["report_ids"][0]


def test_a_contribution_becomes_an_alert_that_only_its_organisation_sees(start_server, database_url, tmp_path):
    live = start_server(server_settings(tmp_path, database_url))
    report_id = contribute_anthrax(live)
    derive_every_scope(live)
    with live.engine.connect() as conn:
        stored = {r.alert_id: r.scope for r in conn.execute(select(alerts.c.alert_id, alerts.c.scope))}
    assert "org:NCB-NL" in stored.values(), "the contributing organisation's scope produced an alert"
    mine = walk(live, "nl_analyst")
    assert mine, "the contributor's organisation sees the resulting alert"
    assert {i["alert_id"] for i in mine} == {a.split("~")[0] for a, s in stored.items() if s == "org:NCB-NL"}
    assert all(i["tlp"] == "AMBER+STRICT" for i in mine)
    assert all("~" not in i["alert_id"] for i in mine), "answers carry natural ids, not a scope's suffix"
    with live.client("nl_analyst") as client:
        alert = client.get(f"/api/v1/alerts/{mine[0]['alert_id']}").json()
        incident = client.get(f"/api/v1/incidents/{alert['incident_id']}")
        assert incident.status_code == 200, incident.text
        assert [r["report_id"] for r in incident.json()["reports"]] == [report_id]
    for outsider in ("fr_analyst", "fr_contrib", "ip_admin"):
        assert walk(live, outsider) == []
        # filtering on the alert's own facts does not reveal it either, nor does its id or incident
        assert walk(live, outsider, country="NLD", disease="anthrax") == []
        with live.client(outsider) as client:
            assert client.get(f"/api/v1/alerts/{mine[0]['alert_id']}").status_code == 404
            assert client.get(f"/api/v1/incidents/{alert['incident_id']}").status_code == 404
            assert client.get("/api/v1/incidents").json()["items"] == []
