"""TAXII 2.1 inside ``biotracker serve``, pulled with the OASIS ``taxii2-client`` library from a real
server: discovery, API root, one collection per audience the caller may read, objects paged with
``next`` and ``added_after``, the manifest, and every object valid STIX 2.1 (``stix2-validator``).

The store is the outputs' hand-made sample (tests/outputs/sample_store.py: CLEAR cholera with an
alert and an analyst note, AMBER anthrax, law-enforcement intake declared CLEAR) plus a GREEN
report, a RED report and another organisation's unshared AMBER contribution, so that every
collection holds something the narrower ones must not. It is small on purpose: the validator costs
milliseconds per object (the demo's figures are in benchmarks/taxii_pull.py).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator

import pytest
import requests
from sqlalchemy import delete, select, update
from stix2validator import ValidationOptions, validate_instance
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

from biotracker.db.tables import audit_log, incident_reports, incidents, raw_payloads, reports
from biotracker.db.upsert import upsert
from biotracker.outputs.stix import TLP2_IDS, stix_id
from biotracker.schema import Tlp, as_utc
from biotracker.server import accounts
from biotracker.server.taxii_collections import COLLECTIONS
from tests import pg_cluster
from tests.outputs.sample_store import WEEK
from tests.outputs.sample_store import populate as populate_sample
from tests.server.conftest import LiveServer, server_settings, serving

TAXII = "application/taxii+json;version=2.1"
COMMUNITY = "INTERPOL"  # ip_admin's organisation originates the feed records here
BY_MARKING = {c.marking: c for c in COLLECTIONS}
T = as_utc(dt.datetime(2024, 6, 12, 9))
#: The GREEN report was published on T but fetched three weeks later.
FETCHED_LATE = as_utc(dt.datetime(2024, 7, 3, 8))
LATE_PAYLOAD = "f" * 64


class Bearer(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


def _report(report_id: str, title: str, tlp: str, **extra: object) -> dict:
    source, source_id = report_id.split(":")
    return {"report_id": report_id, "source": source, "source_id": source_id, "url": f"https://example.org/{source_id}",
            "title": title, "summary": "", "text": "", "published_at": T, "observed_at": T, "disease": "mpox",
            "pathogen": None, "host": "human", "country_iso3": "COD", "admin_area": None, "lat": None, "lon": None,
            "cases": 1, "deaths": 0, "language": "en", "tlp": tlp, "raw_sha256": None, "evidence": {},
            "originator_org": None, "share_with": None, "share_users": None, **extra}


def add_records(engine) -> None:
    """A GREEN report, a RED one, and NCB-FR's AMBER contribution shared with nobody: one incident each.
    The sample's intake report is moved to the registered police channel (the server reads the
    connector registry for what is law-enforcement intake)."""
    reps = [
        _report("who_don:DON600", "Mpox - DR Congo", "GREEN", raw_sha256=LATE_PAYLOAD),
        _report("who_don:DON601", "Mpox - DR Congo, named recipients", "RED", share_users=["ip_admin"]),
        _report("contributions:fr-1", "Mpox contact tracing (NCB-FR)", "AMBER", originator_org="NCB-FR", share_with=[]),
    ]
    made = [
        {"incident_id": f"inc-{r['source_id'].lower()}", "title": r["title"], "disease": "mpox", "pathogen": None,
         "host": "human", "country_iso3": "COD", "first_seen_at": T, "last_seen_at": T, "cases": 1, "deaths": 0,
         "tlp": r["tlp"]}
        for r in reps
    ]
    links = [{"incident_id": i["incident_id"], "report_id": r["report_id"], "disease": "mpox", "country_iso3": "COD",
              "period_start": WEEK, "series_key": "mpox|COD|human"} for i, r in zip(made, reps, strict=True)]
    late = {"sha256": LATE_PAYLOAD, "source": "who_don", "url": "https://feeds.example/who_don", "fetched_at": FETCHED_LATE,
            "http_status": 200, "size": 10, "content_type": "application/json", "normalised_version": 1}
    with engine.begin() as conn:
        upsert(conn, raw_payloads, [late])
        intake = dict(conn.execute(select(reports).where(reports.c.report_id == "police_intake:PI-1")).mappings().one())
        upsert(conn, reports, [intake | {"report_id": "police_reports:PI-1", "source": "police_reports"}])
        conn.execute(update(incident_reports).where(incident_reports.c.report_id == "police_intake:PI-1")
                     .values(report_id="police_reports:PI-1"))
        conn.execute(delete(reports).where(reports.c.report_id == "police_intake:PI-1"))
        upsert(conn, reports, reps)
        upsert(conn, incidents, made)
        upsert(conn, incident_reports, links)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request, tmp_path_factory) -> Iterator[LiveServer]:
    """One server per backend for the module, over the sample store, with the PEOPLE community."""
    from argon2 import PasswordHasher

    home = tmp_path_factory.mktemp("taxii")
    url = None
    if request.param == "postgres":
        cluster = request.getfixturevalue("postgres_cluster")
        url = pg_cluster.create_database(cluster, f"bt_taxii_{home.name[-8:].replace('-', '_')}")
    settings = server_settings(home, url, community_org=COMMUNITY)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        with serving(settings) as live:
            populate_sample(live.engine)
            add_records(live.engine)
            yield live


def root_of(server: LiveServer, user: str) -> ApiRoot:
    found = Server(f"{server.url}/taxii2/", auth=Bearer(server.read_tokens[user]))
    assert found.default is not None
    return found.default


def collection(server: LiveServer, user: str, marking: Tlp) -> Collection:
    url = f"{server.url}/taxii2/biotracker/collections/{BY_MARKING[marking].id}/"
    return Collection(url, auth=Bearer(server.read_tokens[user]))


def pull(col: Collection, per_request: int, **filters: object) -> tuple[list[dict], int]:
    """Every object through ``as_pages`` (which follows ``next``), and the number of pages."""
    pages = list(as_pages(col.get_objects, per_request=per_request, **filters))
    return [o for page in pages for o in page.get("objects", [])], len(pages)


def markings(objects: list[dict]) -> set[str]:
    return {m for o in objects for m in o.get("object_marking_refs", [])}


# --- discovery, API root, collections ---------------------------------------------------------------


def test_discovery_names_one_api_root_that_lists_the_collections_the_caller_may_read(server):
    found = Server(f"{server.url}/taxii2/", auth=Bearer(server.read_tokens["nl_analyst"]))
    assert found.title == "Biotracker"
    assert [r.url for r in found.api_roots] == [f"{server.url}/taxii2/biotracker/"]
    root = found.default
    assert root.versions == [TAXII]
    assert root.max_content_length == server.settings.server_max_body_bytes
    green_only = {c.id: c for c in root.collections}
    assert set(green_only) == {BY_MARKING[Tlp.CLEAR].id, BY_MARKING[Tlp.GREEN].id}
    assert all(c.can_read and not c.can_write for c in green_only.values())
    assert all(c.media_types == ["application/stix+json;version=2.1"] for c in green_only.values())
    community = {c.id for c in root_of(server, "ip_admin").collections}
    assert community == {c.id for c in COLLECTIONS}, "the community organisation reads up to AMBER+STRICT"


def test_a_collection_the_caller_may_not_read_answers_404_like_one_that_does_not_exist(server):
    headers = {"Authorization": f"Bearer {server.read_tokens['nl_analyst']}", "Accept": TAXII}
    base = f"{server.url}/taxii2/biotracker/collections"
    for suffix in ("", "objects/", "manifest/"):
        amber = requests.get(f"{base}/{BY_MARKING[Tlp.AMBER].id}/{suffix}", headers=headers, timeout=60)
        unknown = requests.get(f"{base}/00000000-0000-4000-8000-000000000000/{suffix}", headers=headers, timeout=60)
        assert amber.status_code == unknown.status_code == 404
        assert amber.json() == unknown.json()
        assert amber.headers["content-type"] == TAXII
    with server.engine.connect() as conn:
        refused = conn.execute(select(audit_log).where(audit_log.c.actor == "nl_analyst",
                                                       audit_log.c.outcome == "not_found")).all()
    assert len(refused) >= 3


def test_no_credentials_or_a_bad_token_answer_401(server):
    for path in ("", "biotracker/", "biotracker/collections/",
                 f"biotracker/collections/{BY_MARKING[Tlp.CLEAR].id}/objects/"):
        answer = requests.get(f"{server.url}/taxii2/{path}", headers={"Accept": TAXII}, timeout=60)
        assert answer.status_code == 401
        assert "Bearer" in answer.headers["www-authenticate"]
        assert answer.json()["http_status"] == "401"
    with pytest.raises(requests.HTTPError) as refused:
        Server(f"{server.url}/taxii2/", auth=Bearer("not-a-token")).refresh()
    assert refused.value.response.status_code == 401


def test_http_basic_takes_the_api_token_as_password_for_its_own_user_only(server):
    token = server.read_tokens["nl_analyst"]
    assert Server(f"{server.url}/taxii2/", user="nl_analyst", password=token).title == "Biotracker"
    with pytest.raises(requests.HTTPError) as refused:
        Server(f"{server.url}/taxii2/", user="fr_analyst", password=token).refresh()
    assert refused.value.response.status_code == 401


def test_a_client_that_does_not_accept_taxii_2_1_gets_406(server):
    answer = requests.get(f"{server.url}/taxii2/", timeout=60, headers={
        "Authorization": f"Bearer {server.read_tokens['nl_analyst']}", "Accept": "application/taxii+json;version=2.0"})
    assert answer.status_code == 406


# --- objects ----------------------------------------------------------------------------------------


def test_objects_page_through_with_next_and_every_object_is_valid_stix(server):
    col = collection(server, "nl_analyst", Tlp.GREEN)
    objects, pages = pull(col, per_request=3)
    ids = [o["id"] for o in objects]
    assert len(ids) == len(set(ids)), "pages neither repeat nor skip"
    assert pages == math.ceil(len(objects) / 3) > 1
    everything, single = pull(col, per_request=1000)
    assert single == 1 and [o["id"] for o in everything] == ids
    options = ValidationOptions(version="2.1")
    for obj in objects:
        result = validate_instance(obj, options)
        assert result.is_valid, (obj["id"], [str(e) for e in result.errors])
    types = {o["type"] for o in objects}
    assert {"incident", "report", "location", "relationship", "note", "identity", "marking-definition"} <= types


def test_a_green_caller_sees_nothing_from_amber_strict_or_red_records(server):
    objects, _ = pull(collection(server, "nl_analyst", Tlp.GREEN), per_request=1000)
    ids = {o["id"] for o in objects}
    assert markings(objects) <= {TLP2_IDS[Tlp.CLEAR], TLP2_IDS[Tlp.GREEN]}
    assert stix_id("incident", "inc-don600") in ids, "the GREEN incident is there"
    assert stix_id("incident", "inc-nga-1") in ids and stix_id("note", "alert-nga") in ids
    for hidden in ("inc-fra-1", "inc-deu-1", "inc-don601", "inc-fr-1"):
        assert stix_id("incident", hidden) not in ids
    assert stix_id("report", "police_reports:PI-1") not in ids
    assert "Warehouse-7" not in str(objects)


def test_the_community_reads_amber_strict_without_red_or_other_organisations_amber(server):
    amber_strict, _ = pull(collection(server, "ip_admin", Tlp.AMBER_STRICT), per_request=1000)
    ids = {o["id"] for o in amber_strict}
    assert stix_id("incident", "inc-deu-1") in ids, "law-enforcement intake: AMBER+STRICT, community only"
    assert stix_id("incident", "inc-fra-1") in ids
    assert stix_id("incident", "inc-don601") not in ids, "RED never leaves, not even to a named recipient"
    assert stix_id("incident", "inc-fr-1") not in ids, "NCB-FR's AMBER contribution is not shared with INTERPOL"
    assert TLP2_IDS[Tlp.RED] not in markings(amber_strict)
    amber, _ = pull(collection(server, "ip_admin", Tlp.AMBER), per_request=1000)
    assert stix_id("incident", "inc-fra-1") in {o["id"] for o in amber}
    assert stix_id("incident", "inc-deu-1") not in {o["id"] for o in amber}
    with server.engine.connect() as conn:
        reads = conn.execute(select(audit_log.c.record_ids).where(
            audit_log.c.actor == "ip_admin", audit_log.c.action == "read", audit_log.c.outcome == "ok")).scalars().all()
    audited = {r for ids_ in reads for r in ids_}
    assert {"inc-deu-1", "police_reports:PI-1", "inc-fra-1"} <= audited


def test_added_after_returns_exactly_the_later_objects_and_the_date_headers_bound_the_page(server):
    col = collection(server, "nl_analyst", Tlp.GREEN)
    manifest = [r for page in as_pages(col.get_manifest, per_request=1000) for r in page.get("objects", [])]
    added = {r["id"]: r["date_added"] for r in manifest}
    headers = {"Authorization": f"Bearer {server.read_tokens['nl_analyst']}", "Accept": TAXII}
    first = requests.get(f"{col.url}objects/", params={"limit": 4}, headers=headers, timeout=60)
    again = requests.get(f"{col.url}objects/", params={"limit": 4}, headers=headers, timeout=60)
    assert first.json() == again.json(), "date_added and order are stable across requests"
    page = first.json()["objects"]
    assert first.headers["X-TAXII-Date-Added-First"] == added[page[0]["id"]]
    assert first.headers["X-TAXII-Date-Added-Last"] == added[page[-1]["id"]]
    cut = sorted(set(added.values()))[-2]
    later, _ = pull(col, per_request=2, added_after=cut)
    assert {o["id"] for o in later} == {i for i, when in added.items() if when > cut}
    assert later, "something was added after the cut"
    assert pull(col, per_request=2, added_after=max(added.values()))[0] == []


def test_a_report_fetched_late_is_added_when_it_was_fetched_so_added_after_polling_gets_it(server):
    col = collection(server, "nl_analyst", Tlp.GREEN)
    later, _ = pull(col, per_request=10, added_after="2024-07-01T00:00:00Z")
    assert {o["id"] for o in later} == {
        stix_id("report", "who_don:DON600"),
        stix_id("incident", "inc-don600"),
        stix_id("relationship", "inc-don600|related-to|COD"),
    }
    report = next(o for o in later if o["type"] == "report")
    assert report["modified"].startswith("2024-06-12"), "the version is still the report's own time"
    manifest = col.get_manifest(added_after="2024-07-01T00:00:00Z")["objects"]
    assert {r["date_added"] for r in manifest} == {"2024-07-03T08:00:00.000Z"}


def test_the_manifest_lists_the_objects_in_order_with_their_versions(server):
    col = collection(server, "nl_analyst", Tlp.CLEAR)
    objects, _ = pull(col, per_request=1000)
    manifest = [r for page in as_pages(col.get_manifest, per_request=5) for r in page.get("objects", [])]
    assert [r["id"] for r in manifest] == [o["id"] for o in objects]
    for record, obj in zip(manifest, objects, strict=True):
        assert record["version"] == obj.get("modified", obj["created"])
        assert record["media_type"] == "application/stix+json;version=2.1"
    dates = [r["date_added"] for r in manifest]
    assert dates == sorted(dates)


def test_one_object_by_id_and_an_object_the_caller_may_not_read_is_not_found(server):
    col = collection(server, "nl_analyst", Tlp.GREEN)
    wanted = stix_id("incident", "inc-nga-1")
    envelope = col.get_object(wanted)
    assert [o["id"] for o in envelope["objects"]] == [wanted]
    assert col.get_objects(type="location")["objects"] and all(
        o["type"] == "location" for o in col.get_objects(type="location")["objects"])
    with pytest.raises(requests.HTTPError) as missing:
        col.get_object(stix_id("incident", "inc-deu-1"))
    assert missing.value.response.status_code == 404


def test_the_collection_ids_in_the_sharing_guide_are_the_served_ones():
    from tests.conftest import REPO

    guide = (REPO / "docs" / "SHARING.md").read_text(encoding="utf-8")
    for col in COLLECTIONS:
        row = next(line for line in guide.splitlines() if f"up to {col.marking} |" in line)
        assert f"`{col.id}`" in row, row


def test_a_record_re_marked_in_the_store_leaves_the_collection_on_the_next_pull(server):
    col = collection(server, "nl_analyst", Tlp.GREEN)
    incident = stix_id("incident", "inc-don600")
    assert incident in {o["id"] for o in pull(col, per_request=1000)[0]}

    def mark(tlp: str) -> None:
        with server.engine.begin() as conn:
            conn.execute(update(reports).where(reports.c.report_id == "who_don:DON600").values(tlp=tlp))

    mark("AMBER+STRICT")
    try:
        objects, _ = pull(col, per_request=1000)
        assert incident not in {o["id"] for o in objects}
        assert stix_id("report", "who_don:DON600") not in {o["id"] for o in objects}
    finally:
        mark("GREEN")
    assert incident in {o["id"] for o in pull(col, per_request=1000)[0]}
