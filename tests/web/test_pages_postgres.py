"""The workbench's pages over PostgreSQL (the browser tests run on SQLite): every queue filter and
sort, alert pages, incident pages, exports and a bulk triage answer as they do on SQLite."""

from __future__ import annotations

import dataclasses
import re

import pytest
from fastapi.testclient import TestClient

from biotracker.db.engine import open_store
from biotracker.server import accounts
from biotracker.server.app import create_app
from tests.server.conftest import PASSWORD, populate

QUERIES = ("/", "/?tier=critical&sort=newest", "/?agent=tier1&q=a", "/?status=new&sort=disease",
           "/?since=2023-01-01&until=2024-12-31&sort=country", "/?page=2&sort=oldest", "/?assignee=nl_analyst")


@pytest.fixture
def quick_hashing(monkeypatch):
    from argon2 import PasswordHasher

    monkeypatch.setattr(accounts, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.mark.postgres
@pytest.mark.parametrize("demo_copy", ["postgres"], indirect=True)
def test_the_pages_answer_on_postgresql(demo_copy, quick_hashing):
    settings = dataclasses.replace(demo_copy, server_secret_key="web-test-secret", server_cookie_secure=False)
    engine = open_store(settings)
    populate(engine)
    with TestClient(create_app(settings, engine), base_url="http://127.0.0.1") as client:
        form = client.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        login = client.post("/login", data={"username": "nl_analyst", "password": PASSWORD, "csrf_token": csrf},
                            headers={"Accept": "text/html"}, follow_redirects=False)
        assert login.status_code == 303
        for query in QUERIES:
            assert client.get(query).status_code == 200, query
        queue = client.get("/?tier=critical").text
        ids = re.findall(r'<tr data-alert-id="([^"]+)"', queue)
        assert ids
        for alert_id in ids[:3]:
            page = client.get(f"/alerts/{alert_id}")
            assert page.status_code == 200 and 'id="trend-chart"' in page.text and 'id="alert-map"' in page.text
            incident = re.search(r'href="/incidents/([^"]+)"', page.text)
            assert incident and client.get(f"/incidents/{incident.group(1)}").status_code == 200
            for fmt in ("json", "cap", "stix", "misp"):
                assert client.get(f"/alerts/{alert_id}/export/{fmt}").status_code == 200, fmt
        session_csrf = re.search(r'name="csrf_token" value="([^"]+)"', queue).group(1)
        bulk = client.post("/alerts/bulk", follow_redirects=False, data={
            "alert_id": ids[:2], "action": "status", "status": "triaged", "csrf_token": session_csrf})
        assert bulk.status_code == 303 and "n=2" in bulk.headers["location"] and "failed=0" in bulk.headers["location"]
    engine.dispose()
