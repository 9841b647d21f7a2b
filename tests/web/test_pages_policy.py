"""No leak through pages: for every user of the community, the queue's pages list exactly the alerts
the API lists to that user, and an alert the API answers 404 for is a 404 page (checked over HTTP,
without a browser: the property is about the HTML the server sends)."""

from __future__ import annotations

import re
from contextlib import closing

import httpx

from tests.server.conftest import PASSWORD, PEOPLE


def logged_in(server, user: str) -> httpx.Client:
    client = httpx.Client(base_url=server.url, timeout=60, headers={"Accept": "text/html"})
    form = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    assert client.post("/login", data={"username": user, "password": PASSWORD, "csrf_token": csrf}).status_code == 303
    return client


def api_alerts(server, user: str) -> set[str]:
    found, cursor = set(), None
    with server.client(user) as client:
        while True:
            page = client.get("/api/v1/alerts", params={"limit": 200, **({"cursor": cursor} if cursor else {})}).json()
            found |= {i["alert_id"] for i in page["items"]}
            if not (cursor := page["next"]):
                return found


def queue_alerts(client: httpx.Client) -> set[str]:
    found, page = set(), 1
    while True:
        html = client.get("/", params={"page": page}).text
        found |= set(re.findall(r'<tr data-alert-id="([^"]+)"', html))
        if 'rel="next"' not in html:
            return found
        page += 1


def test_every_users_queue_lists_exactly_what_the_api_lists_to_them(demo_server):
    everyone = set()
    for user in PEOPLE:
        with closing(logged_in(demo_server, user)) as client:
            listed = queue_alerts(client)
            assert listed == api_alerts(demo_server, user), user
            everyone |= listed
            for alert_id in sorted(listed)[:3]:
                assert client.get(f"/alerts/{alert_id}").status_code == 200
    with closing(logged_in(demo_server, "nl_analyst")) as client:
        assert client.get("/alerts/alert-not-there").status_code == 404
    assert everyone, "the demo's alerts are listed"
