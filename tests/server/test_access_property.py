"""Access property test: random records (markings, originators, share lists, law-enforcement intake)
and random alerts built on them, served for real; for every user, the report route and the alert
list show exactly what TLP 2.0 allows -- checked against an independent statement of the rules."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert

from biotracker.db.tables import alerts, incident_reports, incidents, reports
from biotracker.schema import Tlp
from tests.server.conftest import PEOPLE, server_settings

ORGS = sorted({org for org, _ in PEOPLE.values()})
COMMUNITY = "community"
RANK = [Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED]
#: Connectors of kind law_enforcement: without an originator, at least AMBER+STRICT of the community.
INTAKE = {"police_reports", "contributions"}

record_strategy = st.fixed_dictionaries({
    "tlp": st.sampled_from(RANK),
    "originator": st.sampled_from([None, *ORGS]),
    "share_with": st.lists(st.sampled_from(ORGS), max_size=2, unique=True),
    "share_users": st.lists(st.sampled_from(sorted(PEOPLE)), max_size=2, unique=True),
    "source": st.sampled_from(["who_don", "police_reports", "contributions"]),
    "disease": st.sampled_from([None, "anthrax", "measles"]),
})
RECORD_WEEK = dt.date(2026, 11, 2)


@st.composite
def stores(draw):
    records = draw(st.lists(record_strategy, min_size=1, max_size=6))
    alert_list = draw(st.lists(
        st.fixed_dictionaries({
            "members": st.sets(st.integers(0, len(records) - 1), max_size=3),
            "tlp": st.sampled_from(RANK),
            # an alert on a topic also rests on every report of its disease and country in its weeks
            "topic": st.sampled_from([None, "Anthrax"]),
            "week": st.sampled_from([RECORD_WEEK, RECORD_WEEK - dt.timedelta(weeks=4)]),
        }),
        max_size=3,
    ))
    return records, alert_list


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


def effective_rank(record: dict) -> int:
    rank = RANK.index(record["tlp"])
    return max(rank, 3) if record["source"] in INTAKE and record["originator"] is None else rank


def members_of(alert: dict, records: list[dict]) -> list[dict]:
    on_topic = {
        i for i, r in enumerate(records)
        if alert["topic"] and r["disease"] == alert["topic"].casefold() and alert["week"] == RECORD_WEEK
    }
    return [records[i] for i in sorted(alert["members"] | on_topic)]


def alert_cleared(user: str, alert: dict, records: list[dict]) -> bool:
    members = members_of(alert, records)
    if not all(cleared(user, m) for m in members):
        return False
    if RANK.index(alert["tlp"]) > max((effective_rank(m) for m in members), default=0):  # someone raised it
        return cleared(user, {"tlp": alert["tlp"], "originator": None, "share_with": [], "share_users": [],
                              "source": "who_don"})
    return True


def load(engine, records, alert_list) -> None:
    now = dt.datetime(2026, 11, 4, tzinfo=dt.UTC)
    with engine.begin() as conn:
        for table in (alerts, incident_reports, incidents, reports):
            conn.execute(delete(table))
        for i, r in enumerate(records):
            conn.execute(insert(reports).values(
                report_id=f"{r['source']}:r{i}", source=r["source"], source_id=f"r{i}", title=f"record {i}",
                summary="", text="", language="en", tlp=r["tlp"].value, evidence={}, published_at=now,
                disease=r["disease"], country_iso3="NLD",
                originator_org=r["originator"], share_with=r["share_with"] if r["originator"] else None,
                share_users=r["share_users"] if r["originator"] else None,
            ))
        for a, alert in enumerate(alert_list):
            conn.execute(insert(incidents).values(incident_id=f"i{a}", title=f"incident {a}", tlp="CLEAR"))
            for m in alert["members"]:
                conn.execute(insert(incident_reports).values(
                    incident_id=f"i{a}", report_id=f"{records[m]['source']}:r{m}"))
            conn.execute(insert(alerts).values(
                alert_id=f"alert-{a}", incident_id=f"i{a}", period_start=alert["week"], headline=f"alert {a}",
                tier="high", reasons=[], status="new", tlp=alert["tlp"].value, source_urls=[],
                disease=alert["topic"], country_iso3="NLD" if alert["topic"] else None,
            ))


def test_every_user_sees_exactly_what_tlp_allows_through_every_route(start_server, database_url, tmp_path):
    live = start_server(server_settings(tmp_path, database_url, community_org=COMMUNITY))
    figures = {"examples": 0, "requests": 0, "leaks": 0, "withheld": 0}
    clients = {user: live.client(user, read_only=True) for user in PEOPLE}

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(stores())
    def check(store):
        records, alert_list = store
        for r in records:  # feed records (no originator) carry no share lists, as in the store
            if r["originator"] is None:
                r["share_with"], r["share_users"] = [], []
        load(live.engine, records, alert_list)
        figures["examples"] += 1
        for user, client in clients.items():
            for i, r in enumerate(records):
                response = client.get(f"/api/v1/reports/{r['source']}:r{i}")
                figures["requests"] += 1
                allowed = cleared(user, r)
                figures["withheld"] += not allowed
                if response.status_code != (200 if allowed else 404):
                    figures["leaks"] += allowed is False
                    raise AssertionError(f"{user} got {response.status_code} for {r}")
            listed = client.get("/api/v1/alerts").json()["items"]
            figures["requests"] += 1
            expected = {f"alert-{a}" for a, alert in enumerate(alert_list) if alert_cleared(user, alert, records)}
            got = {i["alert_id"] for i in listed}
            figures["leaks"] += len(got - expected)
            assert got == expected, (user, records, alert_list)
            for a in range(len(alert_list)):
                status = client.get(f"/api/v1/alerts/alert-{a}").status_code
                figures["requests"] += 1
                figures["leaks"] += status == 200 and f"alert-{a}" not in expected
                assert status == (200 if f"alert-{a}" in expected else 404), (user, a)

    check()
    for client in clients.values():
        client.close()
    print(f"\naccess property: examples {figures['examples']}, requests checked {figures['requests']}, "
          f"withheld {figures['withheld']}, leaks: {figures['leaks']}")
    assert figures["leaks"] == 0
