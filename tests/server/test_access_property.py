"""Access property test: random records (markings, originators, share lists, law-enforcement intake,
contributions), the real chain deriving incidents and alerts in every visibility scope, served for
real; for every user, every route shows exactly what TLP 2.0 allows, checked against an independent
statement of the rules:

- a report answers 200 exactly when the user is cleared for it (404 otherwise);
- the alert list and the incident list are exactly one scope's rows, and every report that scope was
  computed from is one the user is cleared for: no alert or incident exists, and no count changes,
  because of a record the user may not see;
- an incident's page lists only reports the user is cleared for, and as many as it counts;
- every alert listed opens, and so does its incident; what is not listed does not;
- a source (with its item counts) is listed only when the user is cleared for all its reports.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select

from biotracker.alerts.refresh import refresh_derived
from biotracker.db.tables import (
    alert_events,
    alert_feedback,
    alerts,
    incident_assessments,
    incident_reports,
    incidents,
    reports,
    signals,
    source_health,
)
from biotracker.schema import Tlp, Window
from tests.server.conftest import PEOPLE, server_settings

ORGS = sorted({org for org, _ in PEOPLE.values()})
COMMUNITY = "community"
RANK = [Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED]
#: Connectors of kind law_enforcement: without an originator, at least AMBER+STRICT of the community.
INTAKE = {"police_reports", "contributions"}
SOURCES = ["who_don", "police_reports", "contributions"]
NOW = dt.datetime(2026, 11, 4, 12, tzinfo=dt.UTC)
WINDOW = Window(dt.datetime(2026, 1, 5, tzinfo=dt.UTC), dt.datetime(2026, 12, 7, tzinfo=dt.UTC))

record_strategy = st.fixed_dictionaries({
    "tlp": st.sampled_from(RANK),
    "originator": st.sampled_from([None, *ORGS]),
    "share_with": st.lists(st.sampled_from(ORGS), max_size=2, unique=True),
    "share_users": st.lists(st.sampled_from(sorted(PEOPLE)), max_size=2, unique=True),
    "source": st.sampled_from(SOURCES),
    "disease": st.sampled_from([None, "anthrax", "measles"]),
    "days_ago": st.sampled_from([0, 1, 30]),
})


def cleared(user: str, record: dict) -> bool:
    """TLP 2.0, stated independently of the code under test."""
    org = PEOPLE[user][0]
    marking = record["tlp"]
    originator = record["originator"] or COMMUNITY
    if record["source"] in INTAKE and record["originator"] is None and RANK.index(marking) < 3:
        marking = Tlp.AMBER_STRICT  # law-enforcement intake floor
    if marking in (Tlp.CLEAR, Tlp.GREEN):
        return True
    if marking is Tlp.AMBER:
        return org == originator or org in record["share_with"]
    if marking is Tlp.AMBER_STRICT:
        return org == originator
    return user in record["share_users"]


def report_id(i: int, record: dict) -> str:
    return f"{record['source']}:r{i}"


def load(live, records) -> None:
    """Replace the store's reports with ``records`` and derive every scope from scratch, as the chain does."""
    with live.engine.begin() as conn:
        for table in (alert_feedback, alert_events, alerts, incident_assessments, signals, incident_reports,
                      incidents, reports, source_health):
            conn.execute(delete(table))
        for i, r in enumerate(records):
            at = NOW - dt.timedelta(days=r["days_ago"])
            conn.execute(insert(reports).values(
                report_id=report_id(i, r), source=r["source"], source_id=f"r{i}",
                title=f"{r['disease'] or 'unexplained illness'} cases reported, record {i}",
                summary="", text=f"Cases of {r['disease'] or 'an unexplained illness'} in the Netherlands.",
                language="en", tlp=r["tlp"].value, evidence={}, published_at=at, observed_at=at,
                disease=r["disease"], country_iso3="NLD",
                originator_org=r["originator"], share_with=r["share_with"] if r["originator"] else None,
                share_users=r["share_users"] if r["originator"] else None,
            ))
        for source in SOURCES:
            conn.execute(insert(source_health).values(source=source, payloads=1, items=7, last_fetch_at=NOW))
    refresh_derived(live.engine, WINDOW, live.settings.home / "models", published=WINDOW)


def walk(client, path: str) -> list[dict]:
    items, cursor = [], None
    while True:
        body = client.get(path, params={"limit": 3, **({"cursor": cursor} if cursor else {})}).json()
        items += body["items"]
        cursor = body["next"]
        if cursor is None:
            return items


def scopes_of(engine) -> tuple[dict[str, set[str]], dict[str, set[str]], dict[str, set[str]]]:
    """scope -> natural ids of its alerts, of its incidents, and the reports it was computed from."""
    alerts_in: dict[str, set[str]] = {}
    incidents_in: dict[str, set[str]] = {}
    reports_in: dict[str, set[str]] = {}
    with engine.connect() as conn:
        for scope, alert_id in conn.execute(select(alerts.c.scope, alerts.c.alert_id)):
            alerts_in.setdefault(scope, set()).add(alert_id.split("~")[0])
        for scope, incident_id in conn.execute(select(incidents.c.scope, incidents.c.incident_id)):
            incidents_in.setdefault(scope, set()).add(incident_id.split("~")[0])
        for scope, rid in conn.execute(select(incident_reports.c.scope, incident_reports.c.report_id)):
            reports_in.setdefault(scope, set()).add(rid)
    return alerts_in, incidents_in, reports_in


def test_every_user_sees_exactly_what_tlp_allows_through_every_route(start_server, database_url, tmp_path):
    live = start_server(server_settings(tmp_path, database_url, community_org=COMMUNITY))
    figures = {"examples": 0, "requests": 0, "leaks": 0, "withheld": 0, "alerts shown": 0, "incidents shown": 0}
    clients = {user: live.client(user, read_only=True) for user in PEOPLE}

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(record_strategy, min_size=1, max_size=6))
    def check(records):
        for r in records:  # feed records (no originator) carry no share lists, as in the store
            if r["originator"] is None:
                r["share_with"], r["share_users"] = [], []
        load(live, records)
        figures["examples"] += 1
        by_id = {report_id(i, r): r for i, r in enumerate(records)}
        alerts_in, incidents_in, reports_in = scopes_of(live.engine)
        for user, client in clients.items():
            for rid, r in by_id.items():
                status = client.get(f"/api/v1/reports/{rid}").status_code
                figures["requests"] += 1
                allowed = cleared(user, r)
                figures["withheld"] += not allowed
                figures["leaks"] += status == 200 and not allowed
                assert status == (200 if allowed else 404), (user, r)

            listed = {i["alert_id"] for i in walk(client, "/api/v1/alerts")}
            shown_incidents = walk(client, "/api/v1/incidents")
            figures["requests"] += 2 + (len(listed) + len(shown_incidents)) // 3
            listed_incidents = {i["incident_id"] for i in shown_incidents}
            # exactly one scope's rows, and that scope rests only on reports the user is cleared for
            candidates = [
                s for s in set(alerts_in) | set(incidents_in) | set(reports_in) | {"none"}
                if alerts_in.get(s, set()) == listed and incidents_in.get(s, set()) == listed_incidents
            ]
            safe = [s for s in candidates if all(cleared(user, by_id[rid]) for rid in reports_in.get(s, ()))]
            if not safe:
                figures["leaks"] += 1
            assert safe, (user, records, candidates)

            for incident in shown_incidents:
                page = client.get(f"/api/v1/incidents/{incident['incident_id']}").json()
                figures["requests"] += 1
                members = [m["report_id"] for m in page["reports"]]
                hidden = [m for m in members if not cleared(user, by_id[m])]
                figures["leaks"] += len(hidden)
                assert not hidden, (user, page)
                assert page["report_count"] in (None, len(members)), page
            figures["incidents shown"] += len(shown_incidents)
            for alert_id in listed:
                alert = client.get(f"/api/v1/alerts/{alert_id}")
                figures["requests"] += 1
                assert alert.status_code == 200
                if alert.json()["incident_id"]:
                    opened = client.get(f"/api/v1/incidents/{alert.json()['incident_id']}").status_code
                    figures["requests"] += 1
                    assert opened == 200, (user, alert.json())
            figures["alerts shown"] += len(listed)
            for alert_id in set().union(*alerts_in.values()) - listed if alerts_in else ():
                status = client.get(f"/api/v1/alerts/{alert_id}").status_code
                figures["requests"] += 1
                figures["leaks"] += status == 200
                assert status == 404, (user, alert_id)

            for source in client.get("/api/v1/sources").json()["items"]:
                unseen = [r for r in by_id.values() if r["source"] == source["source"] and not cleared(user, r)]
                figures["leaks"] += bool(unseen)
                assert not unseen, (user, source, unseen)
            figures["requests"] += 1

    check()
    for client in clients.values():
        client.close()
    print(f"\naccess property: examples {figures['examples']}, requests checked {figures['requests']}, "
          f"withheld {figures['withheld']}, alerts shown {figures['alerts shown']}, "
          f"incidents shown {figures['incidents shown']}, leaks: {figures['leaks']}")
    assert figures["leaks"] == 0
    assert figures["alerts shown"] and figures["incidents shown"], "the examples exercised derived views"
