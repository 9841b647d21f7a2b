"""The REST API contract, against a real server on SQLite and PostgreSQL: authentication, the
404-not-403 rule, token scopes, contribution validation and hostile input stored and returned safely."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from biotracker.db.tables import raw_payloads, reports
from tests.server.conftest import LiveServer

REPORT = {
    "title": "Suspected anthrax in cattle near Utrecht",
    "text": "Two cows died suddenly; samples sent to the national laboratory.",
    "country_iso3": "NLD",
    "reported_at": "2026-11-28T10:00:00Z",
    "tlp": "AMBER",
    "share_with": ["NCB-FR"],
}


def stored(live: LiveServer) -> tuple[int, int]:
    with live.engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(reports)).scalar_one(),
            conn.execute(select(func.count()).select_from(raw_payloads)).scalar_one(),
        )


def contribute(live: LiveServer, user: str, **changes: object) -> str:
    response = live.client(user).post("/api/v1/reports", json=REPORT | changes)
    assert response.status_code == 201, response.text
    (report_id,) = response.json()["report_ids"]
    return report_id


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/alerts"),
        ("GET", "/api/v1/reports/contributions:0123456789abcdef"),
        ("POST", "/api/v1/reports"),
        ("PUT", "/api/v1/reports/x"),
        ("DELETE", "/api/v1/reports/x"),
        ("GET", "/api/v1/me"),
    ],
)
def test_every_api_route_but_health_answers_401_without_a_token_or_session(live, method, path):
    with live.client() as anonymous:
        assert anonymous.get("/api/v1/health").status_code == 200
        response = anonymous.request(method, path, json=REPORT)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        bad = anonymous.request(method, path, headers={"Authorization": "Bearer bt_not-a-real-token"})
        assert bad.status_code == 401
    assert stored(live) == (0, 0)


def test_openapi_description_is_served_at_api_docs_without_the_internet(live):
    import re

    from biotracker.server.docs import ASSETS

    with live.client() as anonymous:
        page = anonymous.get("/api/docs").text
        assets = re.findall(r'(?:src|href)="([^"]+)"', page)
        assert assets and all(a.startswith("/api/static/swagger-ui/") for a in assets), assets
        for asset in assets:  # the vendored swagger-ui (static/swagger-ui/VENDOR.md), from this server
            served = anonymous.get(asset)
            assert served.status_code == 200, asset
            assert served.content == (ASSETS / asset.rsplit("/", 1)[1]).read_bytes(), asset
        assert "SwaggerUIBundle" in anonymous.get("/api/static/swagger-ui/swagger-ui-bundle.js").text
        spec = anonymous.get("/api/openapi.json").json()
    assert {"/api/v1/alerts", "/api/v1/alerts/{alert_id}", "/api/v1/alerts/{alert_id}/status",
            "/api/v1/alerts/{alert_id}/feedback", "/api/v1/incidents", "/api/v1/incidents/{incident_id}",
            "/api/v1/sources", "/api/v1/reports", "/api/v1/reports/{report_id}",
            "/api/v1/health"} <= set(spec["paths"])


def test_a_contribution_is_archived_raw_normalised_attributed_and_shared_as_marked(live):
    report_id = contribute(live, "nl_contrib")
    assert report_id.startswith("contributions:")
    for reader in ("nl_analyst", "fr_analyst"):  # the originator and the organisation it names
        got = live.client(reader).get(f"/api/v1/reports/{report_id}")
        assert got.status_code == 200, reader
        body = got.json()
        assert body["title"] == REPORT["title"] and body["originator_org"] == "NCB-NL"
        assert body["tlp"] == "AMBER" and body["share_with"] == ["NCB-FR"]
        assert body["disease"] == "anthrax"  # normalised through the same extraction as every feed
    assert live.client("ip_admin").get(f"/api/v1/reports/{report_id}").status_code == 404
    from biotracker.raw.archive import read_payload

    raw = json.loads(read_payload(live.settings.raw_dir, body["raw_sha256"]))
    assert raw["contribution"]["organisation"] == "NCB-NL" and raw["contribution"]["user"] == "nl_contrib"
    assert raw["reports"][0]["title"] == REPORT["title"]


def test_the_default_marking_is_amber_strict_for_the_contributing_organisation_only(live):
    body = {k: v for k, v in REPORT.items() if k not in ("tlp", "share_with")}
    response = live.client("nl_contrib").post("/api/v1/reports", json=body)
    assert response.status_code == 201
    (report_id,) = response.json()["report_ids"]
    assert live.client("nl_analyst").get(f"/api/v1/reports/{report_id}").json()["tlp"] == "AMBER+STRICT"
    assert live.client("fr_analyst").get(f"/api/v1/reports/{report_id}").status_code == 404


def test_red_is_for_named_users_and_its_author(live):
    report_id = contribute(live, "nl_contrib", tlp="RED", share_with=[], share_users=["fr_analyst"])
    assert live.client("fr_analyst").get(f"/api/v1/reports/{report_id}").status_code == 200
    assert live.client("nl_contrib").get(f"/api/v1/reports/{report_id}").status_code == 200
    assert live.client("nl_analyst").get(f"/api/v1/reports/{report_id}").status_code == 404


def test_another_organisations_report_is_404_exactly_like_a_missing_one(live):
    report_id = contribute(live, "fr_contrib", tlp="AMBER+STRICT", share_with=[])
    hidden = live.client("nl_analyst").get(f"/api/v1/reports/{report_id}")
    missing = live.client("nl_analyst").get("/api/v1/reports/contributions:" + "0" * 32)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()
    # sequential guessing around a known id finds nothing either
    known = contribute(live, "nl_contrib")
    stem, digits = known[:-4], known[-4:]
    for delta in range(1, 20):
        guess = f"{stem}{(int(digits, 16) + delta) % 0x10000:04x}"
        assert live.client("nl_analyst").get(f"/api/v1/reports/{guess}").status_code == 404
    # and it cannot be changed or withdrawn by another organisation
    assert live.client("nl_contrib").delete(f"/api/v1/reports/{report_id}").status_code == 404
    assert live.client("nl_contrib").put(f"/api/v1/reports/{report_id}", json=REPORT).status_code == 404


def test_token_scopes_and_roles_gate_writes(live):
    assert live.client("nl_contrib", read_only=True).post("/api/v1/reports", json=REPORT).status_code == 403
    assert live.client("nl_analyst").post("/api/v1/reports", json=REPORT).status_code == 403
    assert live.client("ip_admin").post("/api/v1/reports", json=REPORT).status_code == 403
    assert live.client("nl_analyst", read_only=True).get("/api/v1/alerts").status_code == 200
    assert stored(live) == (0, 0)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (REPORT | {"country_iso3": "XXX"}, "country_iso3"),
        (REPORT | {"country_iso3": "nl'; DROP TABLE reports;--"}, "country_iso3"),
        (REPORT | {"tlp": "PURPLE"}, "tlp"),
        (REPORT | {"reported_at": "yesterday"}, "reported_at"),
        (REPORT | {"reported_at": "2026-11-28T10:00:00"}, "reported_at"),
        ({k: v for k, v in REPORT.items() if k != "title"}, "title"),
        (REPORT | {"title": "   "}, "title"),
        (REPORT | {"source": "who_don"}, "source"),
        (REPORT | {"share_with": ["NCB-NOWHERE"]}, "share_with"),
        (REPORT | {"tlp": "AMBER+STRICT"}, "share_with"),
        (REPORT | {"cases": -3}, "cases"),
        ({"reports": [REPORT, REPORT | {"lat": 123}]}, "lat"),
        ({"reports": []}, "reports"),
        ({"reports": [REPORT], "extra": 1}, "extra"),
    ],
)
def test_bad_contributions_get_422_naming_the_field_and_store_nothing(live, body, field):
    response = live.client("nl_contrib").post("/api/v1/reports", json=body)
    assert response.status_code == 422, response.text
    named = [str(part) for problem in response.json()["detail"] for part in problem["loc"]]
    assert field in named or any(field in p["msg"] for p in response.json()["detail"])
    assert stored(live) == (0, 0)


def test_malformed_and_oversized_uploads_are_refused_and_store_nothing(live):
    client = live.client("nl_contrib")
    assert client.post("/api/v1/reports", content=b"{not json", headers={"content-type": "application/json"}).status_code == 400
    assert client.post("/api/v1/reports", content=b"\xff\xfe\x00", headers={"content-type": "application/json"}).status_code == 400
    assert client.post("/api/v1/reports", content=b"title=x", headers={"content-type": "text/plain"}).status_code == 415
    assert client.post("/api/v1/reports", json=[REPORT]).status_code == 422
    huge = {"reports": [REPORT | {"text": "x" * 90_000}] * 12}
    assert client.post("/api/v1/reports", json=huge).status_code == 413

    def chunks():  # no Content-Length: the limit holds while the body streams in
        for _ in range(40):
            yield b" " * 50_000

    streamed = client.post("/api/v1/reports", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    assert stored(live) == (0, 0)


HOSTILE = [
    "<script>alert(document.cookie)</script>",
    "\"><img src=x onerror=alert(1)>",
    "'; DROP TABLE reports; --",
    "1' OR '1'='1",
    "%' UNION SELECT password_hash FROM users --",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_sql_metacharacters_and_html_are_stored_verbatim_and_returned_as_inert_json(live, text):
    report_id = contribute(live, "nl_contrib", title=f"Anthrax {text}", text=text, disease=text[:200])
    got = live.client("nl_analyst").get(f"/api/v1/reports/{report_id}")
    assert got.headers["content-type"] == "application/json"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.json()["title"] == f"Anthrax {text}" and got.json()["text"] == text
    for params in ({"disease": text}, {"country": text[:3]}, {"tier": text}, {"status": text}, {"cursor": text}):
        response = live.client("nl_analyst").get("/api/v1/alerts", params=params)
        assert response.status_code in (200, 400, 422), (params, response.text)
        assert "Traceback" not in response.text
    assert live.client("nl_analyst").get(f"/api/v1/reports/{text}").status_code == 404
    assert stored(live)[0] == 1  # the tables are still there, with the one report


def test_contributors_correct_and_withdraw_their_own_reports(live):
    report_id = contribute(live, "nl_contrib")
    corrected = live.client("nl_contrib").put(
        f"/api/v1/reports/{report_id}", json=REPORT | {"title": "Confirmed anthrax in cattle near Utrecht"}
    )
    assert corrected.status_code == 200 and corrected.json()["report_ids"] == [report_id]
    assert live.client("fr_analyst").get(f"/api/v1/reports/{report_id}").json()["title"].startswith("Confirmed")
    assert live.client("fr_contrib").delete(f"/api/v1/reports/{report_id}").status_code == 403  # sees it, not its own
    withdrawn = live.client("nl_contrib").delete(f"/api/v1/reports/{report_id}")
    assert withdrawn.status_code == 200
    tombstone = live.client("nl_analyst").get(f"/api/v1/reports/{report_id}").json()
    assert tombstone["withdrawn_at"] and tombstone["text"] == "" and "anthrax" not in tombstone["title"].lower()
    assert tombstone["disease"] is None and tombstone["country_iso3"] is None
    assert live.client("nl_contrib").put(f"/api/v1/reports/{report_id}", json=REPORT).status_code == 409
    assert stored(live) == (1, 3)  # one report; three raw payloads (post, correction, tombstone): nothing deleted


CSV_HEADER = "title,text,country_iso3,reported_at,tlp,share_with,cases\n"


def test_a_csv_upload_contributes_every_row_or_none(live):
    client = live.client("nl_contrib")
    good = CSV_HEADER + (
        'Anthrax in cattle near Utrecht,"Two cows died, samples sent",NLD,2026-11-28T10:00:00Z,AMBER,NCB-FR;INTERPOL,2\n'
        "Brucella vials missing,,NLD,2026-11-29T08:00:00+01:00,,,\n"
    )
    response = client.post("/api/v1/reports", content=good.encode(), headers={"content-type": "text/csv"})
    assert response.status_code == 201, response.text
    first, second = response.json()["report_ids"]
    shared = live.client("ip_admin").get(f"/api/v1/reports/{first}").json()
    assert shared["share_with"] == ["INTERPOL", "NCB-FR"] and shared["cases"] == 2
    assert live.client("fr_analyst").get(f"/api/v1/reports/{second}").status_code == 404  # AMBER+STRICT default
    before = stored(live)
    bad = good + "Third,,NLD,not a date,,,\n"
    refused = client.post("/api/v1/reports", content=bad.encode(), headers={"content-type": "text/csv"})
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["reports", 2, "reported_at"]
    for broken in (b"", CSV_HEADER.encode(), b"\xff\xfe", (CSV_HEADER + "a,b,NLD,2026-11-28T10:00:00Z,,,,extra\n").encode()):
        assert client.post("/api/v1/reports", content=broken, headers={"content-type": "text/csv"}).status_code == 422
    assert stored(live) == before
