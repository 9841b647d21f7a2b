"""Sharing an alert with named organisations (issue 15 item 2): at the alert's marking or a higher
one, never a lower one (``access.check_remarking``; a derived alert has no originator to lower it),
only at markings that can name organisations (CLEAR, GREEN, AMBER), with organisations that exist;
recorded in the alert's history, shown on its page and audited. Driven over HTTP: the page's form
and the API's route, both with the demo's alerts."""

from __future__ import annotations

import re
from contextlib import closing

from sqlalchemy import or_, update

from biotracker.db.tables import alerts
from biotracker.schema import Tlp
from tests.web.conftest import audit_rows
from tests.web.test_pages_policy import api_alerts, logged_in


def alerts_by_marking(server, user: str) -> dict[Tlp, str]:
    with server.client(user) as client:
        listed = client.get("/api/v1/alerts", params={"limit": 200}).json()["items"]
    return {Tlp(a["tlp"]): a["alert_id"] for a in listed}


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_an_analyst_shares_an_alert_from_its_page_at_its_marking_and_it_is_recorded(demo_server):
    marked = alerts_by_marking(demo_server, "nl_analyst")
    marking = min(marked, key=lambda m: m.rank)
    alert_id = marked[marking]
    with closing(logged_in(demo_server, "nl_analyst")) as page:
        html = page.get(f"/alerts/{alert_id}").text
        assert 'action="/alerts/' + alert_id + '/share"' in html
        offered = re.findall(r'<option value="([^"]+)">TLP:', html.split("/share")[1].split("</form>")[0])
        assert offered and all(Tlp(m).rank >= marking.rank for m in offered)  # nothing lower is offered
        answer = page.post(f"/alerts/{alert_id}/share",
                           data={"orgs": ["NCB-FR", "INTERPOL"], "tlp": marking.value, "csrf_token": csrf_of(html)})
        assert answer.status_code == 303 and answer.headers["location"].endswith("done=share")
        shown = page.get(f"/alerts/{alert_id}").text
    assert re.search(rf'id="alert-shares">INTERPOL, NCB-FR \(TLP:{re.escape(marking.value)}\)', shown)
    with demo_server.client("nl_analyst") as api:
        shares = api.get(f"/api/v1/alerts/{alert_id}").json()["shares"]
    assert [(s["orgs"], s["tlp"], s["actor"]) for s in shares] == [(["INTERPOL", "NCB-FR"], marking.value, "nl_analyst")]
    ok = [a for a in audit_rows(demo_server, "alert_share") if a["outcome"] == "ok"]
    assert (alert_id,) in {tuple(a["record_ids"]) for a in ok}


def test_a_share_never_lowers_the_alerts_marking(demo_server):
    alert_id = max(api_alerts(demo_server, "nl_analyst"))
    with demo_server.engine.begin() as conn:  # the demo's alerts are CLEAR: mark this one AMBER
        conn.execute(update(alerts).where(or_(alerts.c.alert_id == alert_id, alerts.c.alert_id.startswith(f"{alert_id}~")))
                     .values(tlp=Tlp.AMBER.value))
    assert alerts_by_marking(demo_server, "nl_analyst")[Tlp.AMBER] == alert_id
    with demo_server.client("nl_analyst") as api:
        lowered = api.post(f"/api/v1/alerts/{alert_id}/share", json={"orgs": ["NCB-FR"], "tlp": "CLEAR"})
        assert lowered.status_code == 409
        assert "not lower" in lowered.json()["detail"]
        assert api.get(f"/api/v1/alerts/{alert_id}").json()["shares"] == []
    refused = [a for a in audit_rows(demo_server, "alert_share") if a["outcome"] == "invalid"]
    assert (alert_id,) in {tuple(a["record_ids"]) for a in refused}
    with closing(logged_in(demo_server, "nl_analyst")) as page:  # the page says why
        html = page.get(f"/alerts/{alert_id}").text
        answer = page.post(f"/alerts/{alert_id}/share",
                           data={"orgs": ["NCB-FR"], "tlp": "CLEAR", "csrf_token": csrf_of(html)})
        assert answer.headers["location"].endswith("error=marking")
        assert "never lower it" in page.get(answer.headers["location"]).text


def test_a_share_must_name_existing_organisations_at_a_marking_that_can_name_them(demo_server):
    alert_id = min(api_alerts(demo_server, "nl_analyst"))
    with demo_server.client("nl_analyst") as api:
        for body in ({"orgs": ["NCB-XX"], "tlp": "RED"}, {"orgs": ["NCB-FR"], "tlp": "AMBER+STRICT"},
                     {"orgs": ["NCB-FR"], "tlp": "RED"}, {"orgs": ["NCB-NL"], "tlp": "RED"}):
            assert api.post(f"/api/v1/alerts/{alert_id}/share", json=body).status_code == 422, body
        assert api.get(f"/api/v1/alerts/{alert_id}").json()["shares"] == []
    with demo_server.client("nl_contrib") as contributor:  # a contributor does not triage or share
        visible = sorted(api_alerts(demo_server, "nl_contrib"))
        assert visible
        denied = contributor.post(f"/api/v1/alerts/{visible[0]}/share", json={"orgs": ["NCB-FR"], "tlp": "RED"})
        assert denied.status_code == 403


def test_the_named_organisation_sees_who_shared_the_alert_with_it_and_no_one_else_does(demo_server):
    common = api_alerts(demo_server, "nl_analyst") & api_alerts(demo_server, "fr_analyst") & api_alerts(
        demo_server, "ip_admin")
    alert_id = min(common)
    with demo_server.client("nl_analyst") as api:
        marking = api.get(f"/api/v1/alerts/{alert_id}").json()["tlp"]
        assert api.post(f"/api/v1/alerts/{alert_id}/share", json={"orgs": ["NCB-FR"], "tlp": marking}).status_code == 200
        assert api.get(f"/api/v1/alerts/{alert_id}").json()["shared_with_us"] == []  # its own share is in "shares"
    with demo_server.client("fr_analyst") as api:
        seen = api.get(f"/api/v1/alerts/{alert_id}").json()
    assert [(s["org"], s["tlp"]) for s in seen["shared_with_us"]] == [("NCB-NL", marking)]
    assert seen["shares"] == [] and seen["history"] == []  # NCB-NL's history stays its own
    with demo_server.client("ip_admin") as api:
        assert api.get(f"/api/v1/alerts/{alert_id}").json()["shared_with_us"] == []
    with closing(logged_in(demo_server, "fr_analyst")) as page:
        html = page.get(f"/alerts/{alert_id}").text
    assert re.search(rf'id="alert-shared-with-us">NCB-NL \(TLP:{re.escape(marking)}\)', html)
