"""A partner's MISP feed as a source: one store exports a feed, another pulls it through the replay server.

The round trip is the contract between ``biotracker export misp`` and the ``misp_partner`` connector:
incidents, places and markings survive; events stricter than the connector's clearance are refused
and quarantined; nothing marked RED ever crosses.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select, update

from biotracker.config import load_settings
from biotracker.db.engine import open_store
from biotracker.db.tables import incidents, quarantine, raw_payloads, reports
from biotracker.errors import RecordError
from biotracker.incidents.build import build_incidents
from biotracker.ingest.misp_feed import marking_of
from biotracker.ingest.registry import get_connector
from biotracker.ingest.replay import Interaction, ReplayServer
from biotracker.ingest.run import fetch_to_raw
from biotracker.normalise.run import normalise_payload, normalise_pending
from biotracker.outputs.audience import INTERNAL
from biotracker.outputs.misp import MispOrg, event_uuid, export_misp, with_all_assessments
from biotracker.outputs.records import load_output_data
from biotracker.raw.archive import read_payload
from biotracker.schema import Tlp, Window, as_utc
from biotracker.testing.transport import replay_client
from tests.outputs.sample_store import KINDS, LE_MARKER, populate

PARTNER = MispOrg.named("Partner Biotracker")
ALL_TIME = Window(as_utc("2000-01-01"), as_utc("2030-01-01"))
EXPORTED_AT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def serve(feed: Path, *, broken: set[str] = frozenset()) -> list[Interaction]:
    """The feed folder as the partner's web server would serve it, at the connector's address."""
    connector = get_connector("misp_partner")
    served = [Interaction(url=connector.url, body=(feed / "manifest.json").read_bytes(), content_type="application/json")]
    for path in sorted(feed.glob("*-*.json")):
        body = b'{"Event": {"uuid": ' if path.stem in broken else path.read_bytes()
        served.append(Interaction(url=connector.event_url(path.stem), body=body, content_type="application/json"))
    return served


def pull(feed: Path, home: Path, **kwargs):
    """A second, empty Biotracker store pulls the feed: fetch, normalise, cluster."""
    settings = load_settings({}, home=str(home))
    engine = open_store(settings)
    with ReplayServer(serve(feed, **kwargs)) as server, replay_client(settings, server) as client:
        fetched = fetch_to_raw("misp_partner", ALL_TIME, settings, engine, client)
        requested = list(server.requests)
    normalise_pending(settings, engine, sources=["misp_partner"])
    build_incidents(engine, None)
    return settings, engine, fetched, requested


def rows(engine, table) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(table)).mappings()]


@pytest.fixture
def partner_feed(tmp_path) -> Path:
    """Store A (the partner): the sample store with a place on one report and one incident marked RED."""
    settings = load_settings({}, home=str(tmp_path / "a"))
    engine = open_store(settings)
    populate(engine)
    with engine.begin() as conn:
        conn.execute(
            update(reports)
            .where(reports.c.report_id == "who_don:DON500")
            .values(lat=9.06, lon=7.49, admin_area="Federal Capital Territory")
        )
        for table, key, value in ((incidents, incidents.c.incident_id, "inc-nga-2"), (reports, reports.c.report_id, "who_don:DON501")):
            conn.execute(update(table).where(key == value).values(tlp="RED"))
    data = with_all_assessments(load_output_data(engine, None, source_kinds=KINDS), engine)
    export_misp(data, INTERNAL, tmp_path / "feed", now=EXPORTED_AT, org=PARTNER)
    return tmp_path / "feed"


def test_round_trip_keeps_incidents_places_and_markings(partner_feed, tmp_path):
    _, engine, fetched, requested = pull(partner_feed, tmp_path / "b")
    got = {r["source_id"]: r for r in rows(engine, reports)}
    assert set(got) == {event_uuid("inc-nga-1"), event_uuid("inc-fra-1")}
    nga = got[event_uuid("inc-nga-1")]
    assert (nga["disease"], nga["country_iso3"], nga["host"], nga["cases"], nga["deaths"], nga["tlp"]) == (
        "cholera", "NGA", "human", 3, 0, "CLEAR"
    )
    assert (nga["lat"], nga["lon"], nga["admin_area"]) == (9.06, 7.49, "Federal Capital Territory")
    assert nga["url"] == "https://www.who.int/emergencies/disease-outbreak-news/item/2024-DON500"
    assert nga["evidence"]["misp"]["orgc"] == {"name": PARTNER.name, "uuid": PARTNER.uuid}
    fra = got[event_uuid("inc-fra-1")]
    assert (fra["disease"], fra["country_iso3"], fra["tlp"]) == ("anthrax", "FRA", "AMBER")
    assert fra["observed_at"].date() == fra["published_at"].date() == dt.date(2024, 6, 11)  # the event date
    rebuilt = {(i["disease"], i["country_iso3"], i["tlp"]) for i in rows(engine, incidents)}
    assert rebuilt == {("cholera", "NGA", "CLEAR"), ("anthrax", "FRA", "AMBER")}
    # The police incident is AMBER+STRICT (law-enforcement intake): the feed lists it, the connector's
    # clearance (AMBER) refuses it, it is never requested, and the refusal is quarantined with its reason.
    assert fetched.pages == 3 and not any(event_uuid("inc-deu-1") in url for url in requested)
    held = [q for q in rows(engine, quarantine) if q["source"] == "misp_partner"]
    assert len(held) == 1 and event_uuid("inc-deu-1") in held[0]["what"]
    assert "TLP:AMBER+STRICT" in held[0]["reason"] and "refused" in held[0]["reason"] and held[0]["excerpt"] == ""
    assert LE_MARKER not in json.dumps([got, rows(engine, incidents), held], default=str)


def test_nothing_marked_red_crosses(partner_feed, tmp_path):
    settings, engine, _, _ = pull(partner_feed, tmp_path / "b")
    stored = b"".join(read_payload(settings.raw_dir, r["sha256"]) for r in rows(engine, raw_payloads))
    assert b"tlp:red" not in stored and b"Cholera - Nigeria (update)" not in stored and b"DON501" not in stored
    assert {r["tlp"] for r in rows(engine, reports)} <= {"CLEAR", "GREEN", "AMBER"}
    assert "RED" not in {i["tlp"] for i in rows(engine, incidents)}


def test_a_broken_event_file_is_quarantined_while_the_others_land(partner_feed, tmp_path):
    _, engine, _, _ = pull(partner_feed, tmp_path / "b", broken={event_uuid("inc-fra-1")})
    assert {r["source_id"] for r in rows(engine, reports)} == {event_uuid("inc-nga-1")}
    reasons = [q["reason"] for q in rows(engine, quarantine)]
    assert any("not valid JSON" in r for r in reasons) and any("refused" in r for r in reasons)


def test_an_event_stricter_than_its_manifest_entry_is_refused(partner_feed):
    connector = get_connector("misp_partner")
    doc = json.loads((partner_feed / f"{event_uuid('inc-nga-1')}.json").read_text())
    for tag in doc["Event"]["Tag"]:
        if tag["name"].startswith("tlp:"):
            tag["name"] = "tlp:red"
    body = json.dumps(doc).encode()
    with pytest.raises(RecordError, match="TLP:RED, stricter than this connector's clearance TLP:AMBER"):
        connector.to_report(next(iter(connector.records(body))))
    good, held, _ = normalise_payload(connector, body, "0" * 64)
    assert good == [] and len(held) == 1 and "refused" in held[0].reason


@pytest.mark.parametrize(
    ("tags", "marking"),
    [
        (["tlp:clear"], Tlp.CLEAR),
        (["tlp:white"], Tlp.CLEAR),
        (["tlp:green", "tlp:amber+strict"], Tlp.AMBER_STRICT),
        (["tlp:ex:chr", "tlp:amber"], Tlp.AMBER),
        (["admiralty-scale:source-reliability=\"b\""], None),
    ],
)
def test_the_most_restrictive_tlp_tag_is_the_marking(tags, marking):
    assert marking_of([{"name": t} for t in tags]) == marking


def test_untagged_events_take_the_connectors_default_marking(partner_feed):
    connector = get_connector("misp_partner")
    doc = json.loads((partner_feed / f"{event_uuid('inc-nga-1')}.json").read_text())
    doc["Event"]["Tag"] = [t for t in doc["Event"]["Tag"] if not t["name"].startswith("tlp:")]
    report = connector.to_report(next(iter(connector.records(json.dumps(doc).encode()))))
    assert report is not None and report.tlp == connector.tlp == Tlp.AMBER


def test_the_demo_round_trips_through_its_own_feed(demo_store, tmp_path):
    """The real thing: the demo store exports a week of incidents; a new store pulls them."""
    settings, _ = demo_store
    engine = open_store(settings)
    window = Window(as_utc("2024-08-26"), as_utc("2024-09-09"))
    data = with_all_assessments(load_output_data(engine, window), engine)
    result = export_misp(data, INTERNAL, tmp_path / "feed", now=EXPORTED_AT, org=PARTNER)
    manifest = json.loads((tmp_path / "feed" / "manifest.json").read_text())
    markings = {u: marking_of(e["Tag"]) for u, e in manifest.items()}
    assert Tlp.RED not in markings.values() and result.counts["events"] == len(manifest) > 10
    _, engine_b, _, _ = pull(tmp_path / "feed", tmp_path / "b")
    got = {r["source_id"]: r for r in rows(engine_b, reports)}
    admitted = {u for u, m in markings.items() if m is not None and m.rank <= Tlp.AMBER.rank}
    assert set(got) == admitted
    held = [q for q in rows(engine_b, quarantine) if "refused" in q["reason"]]
    assert len(held) == len(markings) - len(admitted)
    for event_id, report in got.items():
        event = json.loads((tmp_path / "feed" / f"{event_id}.json").read_text())["Event"]
        assert Tlp(report["tlp"]) == markings[event_id]
        attrs = {a["comment"]: a["value"] for a in event.get("Attribute", [])}
        assert report["disease"] == attrs.get("disease") and report["title"]
        country = [a["value"] for o in event.get("Object", []) if o["name"] == "geolocation"
                   for a in o["Attribute"] if a["object_relation"] == "countrycode"]
        assert (report["country_iso3"] is None) == (not country)
    assert "RED" not in {i["tlp"] for i in rows(engine_b, incidents)}


def test_an_unchanged_event_does_not_stop_the_events_listed_after_it(partner_feed, tmp_path):
    """Conditional GET: an event answered 304 (unchanged since the last fetch) is skipped and the
    fetch goes on to the next event the manifest lists, which may well have changed."""
    settings = load_settings({}, home=str(tmp_path / "b"))
    engine = open_store(settings)
    connector = get_connector("misp_partner")
    manifest = json.loads((partner_feed / "manifest.json").read_text())
    first, second = event_uuid("inc-nga-1"), event_uuid("inc-fra-1")
    assert first < second  # the manifest order: the unchanged event comes first

    def feed(listed: list[str]) -> list[Interaction]:
        entries = {u: manifest[u] for u in listed}
        served = [Interaction(url=connector.url, body=json.dumps(entries).encode(), content_type="application/json")]
        for u in listed:
            served.append(Interaction(url=connector.event_url(u), body=(partner_feed / f"{u}.json").read_bytes(),
                                      content_type="application/json", headers={"ETag": f'"{u}"'}))
        return served

    for listed in ([first], [first, second]):
        with ReplayServer(feed(listed)) as server, replay_client(settings, server) as client:
            fetched = fetch_to_raw("misp_partner", ALL_TIME, settings, engine, client)
    assert fetched.not_modified == 1 and fetched.new_payloads == 2  # the new manifest and the second event
    normalise_pending(settings, engine, sources=["misp_partner"])
    assert {r["source_id"] for r in rows(engine, reports)} == {first, second}
