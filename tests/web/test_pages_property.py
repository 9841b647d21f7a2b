"""No leak through pages: the access property test of the API (tests/server/test_access_property.py),
extended to the HTML the server renders. Random records (markings, originators, share lists,
law-enforcement intake) go through the real chain; for every user of the community, logged in with
a real session cookie over HTTP (no browser: the property is about the HTML sent), the pages

    /   /map   /search?q=…   /alerts/ID   /incidents/ID   /contribute

contain no report id, report title, alert id or incident id the policy forbids that user, and the
counts they show match the API's: the queue lists exactly the API's alerts, the map as many, an
incident page as many reports as the API's incident lists.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.conftest import (  # noqa: F401 (fixtures)
    PEOPLE,
    quick_password_hashing,
    server_settings,
    start_server,
)
from tests.server.test_access_property import (
    COMMUNITY,
    cleared,
    load,
    record_strategy,
    report_id,
    scopes_of,
    walk,
)
from tests.web.test_pages_policy import logged_in, queue_alerts


def title_of(i: int, record: dict) -> str:
    """The title ``load`` gives record ``i`` (its number makes it unique among the records)."""
    return f"{record['disease'] or 'unexplained illness'} cases reported, record {i}"


def forbidden_in(html: str, secrets: set[str]) -> list[str]:
    """The forbidden strings ``html`` contains, each matched as a whole token (``r1`` not in ``r10``)."""
    return [s for s in secrets if re.search(rf"(?<![\w-]){re.escape(s)}(?![\w])", html)]


def test_no_page_shows_a_user_anything_the_policy_forbids(start_server, tmp_path):  # noqa: F811
    # SQLite only: the API's property test covers both stores; the pages read through the same scope
    live = start_server(server_settings(tmp_path, community_org=COMMUNITY, server_cookie_secure=False))
    figures = {"examples": 0, "pages": 0, "leaks": 0, "forbidden strings": 0, "alerts": 0, "incidents": 0}
    api = {user: live.client(user, read_only=True) for user in PEOPLE}
    pages = {user: logged_in(live, user) for user in PEOPLE}

    def page(user: str, path: str, **params: str) -> str:
        answer = pages[user].get(path, params=params)
        assert answer.status_code == 200, (user, path, answer.status_code)
        figures["pages"] += 1
        return answer.text

    @settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(record_strategy, min_size=1, max_size=5))
    def check(records):
        for r in records:  # feed records (no originator) carry no share lists, as in the store
            if r["originator"] is None:
                r["share_with"], r["share_users"] = [], []
        load(live, records)
        figures["examples"] += 1
        alerts_in, incidents_in, _ = scopes_of(live.engine)
        every_alert = set().union(*alerts_in.values()) if alerts_in else set()
        every_incident = set().union(*incidents_in.values()) if incidents_in else set()
        for user in PEOPLE:
            listed = {i["alert_id"] for i in walk(api[user], "/api/v1/alerts")}
            shown_incidents = {i["incident_id"] for i in walk(api[user], "/api/v1/incidents")}
            secrets = {
                s
                for i, r in enumerate(records)
                if not cleared(user, r)
                for s in (report_id(i, r), title_of(i, r))
            }
            secrets |= (every_alert - listed) | (every_incident - shown_incidents)
            figures["forbidden strings"] += len(secrets)

            htmls = {
                "/": page(user, "/"),
                "/map": page(user, "/map"),
                "/search": page(user, "/search", q="cases reported record"),
                "/contribute": page(user, "/contribute"),
            }
            queued = queue_alerts(pages[user])
            assert queued == listed, (user, queued, listed)  # the queue's count is the API's
            mapped = set(re.findall(r'<a href="/alerts/([^"]+)"', htmls["/map"]))
            assert mapped <= listed, (user, mapped - listed)
            for alert_id in sorted(listed):
                htmls[f"/alerts/{alert_id}"] = page(user, f"/alerts/{alert_id}")
            for incident_id in sorted(shown_incidents):
                html = page(user, f"/incidents/{incident_id}")
                htmls[f"/incidents/{incident_id}"] = html
                members = api[user].get(f"/api/v1/incidents/{incident_id}").json()["reports"]
                rows = re.findall(r'<tr data-report-id="([^"]+)"', html)
                assert sorted(rows) == sorted(m["report_id"] for m in members), (user, incident_id)
                count = re.search(r'<span id="report-count">(\d+)</span>', html)
                assert count and int(count.group(1)) == len(members), (user, incident_id)
            figures["alerts"] += len(listed)
            figures["incidents"] += len(shown_incidents)
            for alert_id in sorted(every_alert - listed):  # and what is not listed does not open
                assert pages[user].get(f"/alerts/{alert_id}").status_code == 404, (user, alert_id)
                figures["pages"] += 1

            for path, html in htmls.items():
                leaked = forbidden_in(html, secrets)
                figures["leaks"] += len(leaked)
                assert not leaked, (user, path, leaked, records)

    try:
        check()
    finally:
        for client in [*api.values(), *pages.values()]:
            client.close()
    print(f"\npage access property: examples {figures['examples']}, pages checked {figures['pages']}, "
          f"forbidden strings looked for {figures['forbidden strings']}, alert pages {figures['alerts']}, "
          f"incident pages {figures['incidents']}, leaks: {figures['leaks']}")
    assert figures["leaks"] == 0
    assert figures["alerts"] and figures["incidents"], "the examples exercised derived pages"
