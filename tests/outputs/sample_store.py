"""A small, hand-made store for the output tests: real tables, real rows, known answers.

Three series: cholera in Nigeria (a statistical alarm, CLEAR, two WHO reports), anthrax in France
(first report in 52 weeks, AMBER) and avian influenza in Germany, which came in through a
law-enforcement intake channel ("police_intake", declared CLEAR by mistake) and must never reach a
wider audience. Analysts wrote a note on the cholera alert (status change) and on the German one
(feedback); a status change without a note is not a note.
"""

from __future__ import annotations

import datetime as dt

from biotracker.db.tables import (
    alert_events,
    alert_feedback,
    alerts,
    incident_assessments,
    incident_reports,
    incidents,
    raw_payloads,
    reports,
    signals,
    source_health,
)
from biotracker.db.upsert import upsert
from biotracker.schema import SourceKind, as_utc

DAY = dt.date(2024, 6, 17)  # a Monday; the digest covers the week of 2024-06-10
WEEK = dt.date(2024, 6, 10)
KINDS = {"who_don": SourceKind.PUBLIC_HEALTH, "hpai_outbreaks": SourceKind.VETERINARY,
         "police_intake": SourceKind.LAW_ENFORCEMENT}
LE_MARKER = "Warehouse-7 suspicious powder"
NOTE_NGA = "Asked the regional lab for <b>typing</b> results"
NOTE_DEU = "Matches the open warehouse inquiry"


def _report(source: str, sid: str, title: str, disease: str, iso3: str, when: dt.datetime, tlp: str, url: str) -> dict:
    return {"report_id": f"{source}:{sid}", "source": source, "source_id": sid, "url": url, "title": title,
            "summary": "", "text": "", "published_at": when, "observed_at": when, "disease": disease,
            "pathogen": None, "host": "human", "country_iso3": iso3, "admin_area": None, "lat": None, "lon": None,
            "cases": 3, "deaths": 0, "language": "en", "tlp": tlp, "raw_sha256": None, "evidence": {}}


def _incident(iid: str, title: str, disease: str, iso3: str, when: dt.datetime, tlp: str) -> dict:
    return {"incident_id": iid, "title": title, "disease": disease, "pathogen": None, "host": "human",
            "country_iso3": iso3, "first_seen_at": when, "last_seen_at": when, "cases": 3, "deaths": 0, "tlp": tlp}


def populate(engine) -> None:
    t = as_utc(dt.datetime(2024, 6, 11, 9))
    rep = [
        _report("who_don", "DON500", "Cholera - Nigeria", "cholera", "NGA", t, "CLEAR", "https://www.who.int/emergencies/disease-outbreak-news/item/2024-DON500"),
        _report("who_don", "DON501", "Cholera - Nigeria (update)", "cholera", "NGA", t, "CLEAR", "javascript:alert(1)"),
        {**_report("who_don", "DON502", "Anthrax - France <script>alert('x')</script>", "anthrax", "FRA", t, "AMBER",
                   "https://example.org/fra"), "language": "English"},  # a language name, as some feeds give it
        _report("police_intake", "PI-1", LE_MARKER, "avian influenza", "DEU", t, "CLEAR", "https://intake.police.example/PI-1"),
    ]
    inc = [
        _incident("inc-nga-1", "Cholera - Nigeria", "cholera", "NGA", t, "CLEAR"),
        _incident("inc-nga-2", "Cholera - Nigeria (update)", "cholera", "NGA", t, "CLEAR"),
        _incident("inc-fra-1", "Anthrax - France <script>alert('x')</script>", "anthrax", "FRA", t, "AMBER"),
        _incident("inc-deu-1", LE_MARKER, "avian influenza", "DEU", t, "CLEAR"),
    ]
    # Links carry their report's series facts, as build_incidents writes them.
    facts = {r["report_id"]: {"disease": r["disease"], "country_iso3": r["country_iso3"], "period_start": WEEK,
                              "series_key": f"{r['disease']}|{r['country_iso3']}|human"} for r in rep}
    links = [{"incident_id": "inc-nga-1", "report_id": "who_don:DON500"},
             {"incident_id": "inc-nga-2", "report_id": "who_don:DON501"},
             {"incident_id": "inc-fra-1", "report_id": "who_don:DON502"},
             {"incident_id": "inc-deu-1", "report_id": "police_intake:PI-1"}]
    links = [link | facts[link["report_id"]] for link in links]
    sig = []
    for i in range(12):
        week = WEEK - dt.timedelta(days=7 * (11 - i))
        observed = 2 if i == 11 else i % 2
        sig.append({"signal_id": f"C2:cholera|NGA:{week}", "series_key": "cholera|NGA", "period_start": week,
                    "observed": observed, "expected": 0.5, "upperbound": 1.6, "alarm": i == 11, "method": "C2",
                    "details": {}})
    al = [
        {"alert_id": "alert-nga", "incident_id": "inc-nga-1", "signal_id": f"C2:cholera|NGA:{WEEK}", "period_start": WEEK,
         "headline": "2 cholera incident(s) in NGA", "tier": "high",
         "reasons": ["statistical alarm (C2, alpha=0.001): 2 incident(s) this week, above the upper bound 1.60 (expected 0.50)",
                     "first report of cholera in NGA in the last 52 weeks"],
         "status": "new", "tlp": "CLEAR", "country_iso3": "NGA", "disease": "cholera",
         "source_urls": ["https://www.who.int/emergencies/disease-outbreak-news/item/2024-DON500", "javascript:alert(1)"]},
        {"alert_id": "alert-fra", "incident_id": "inc-fra-1", "signal_id": None, "period_start": WEEK,
         "headline": "Anthrax - France <script>alert('x')</script>", "tier": "medium",
         "reasons": ["first report of anthrax in FRA in the last 52 weeks"], "status": "escalated", "tlp": "AMBER",
         "country_iso3": "FRA", "disease": "anthrax", "source_urls": ["https://example.org/fra"]},
        {"alert_id": "alert-deu", "incident_id": "inc-deu-1", "signal_id": None, "period_start": WEEK,
         "headline": LE_MARKER, "tier": "critical", "reasons": ["first report of avian influenza in DEU"],
         "status": "dismissed", "tlp": "CLEAR", "country_iso3": "DEU", "disease": "avian influenza",
         "source_urls": ["https://intake.police.example/PI-1"]},
    ]
    health = [
        {"source": "who_don", "last_fetch_at": as_utc(dt.datetime(2024, 6, 16, 23)), "last_success_at": as_utc(dt.datetime(2024, 6, 16, 23)),
         "last_failure_at": None, "last_error": None, "payloads": 3, "items": 3, "quarantined": 0, "failures": 0},
        {"source": "hpai_outbreaks", "last_fetch_at": as_utc(dt.datetime(2024, 6, 16)), "last_success_at": as_utc(dt.datetime(2024, 6, 1)),
         "last_failure_at": as_utc(dt.datetime(2024, 6, 16)), "last_error": "HTTP 503", "payloads": 1, "items": 0, "quarantined": 0, "failures": 4},
        {"source": "police_intake", "last_fetch_at": as_utc(dt.datetime(2024, 6, 10)), "last_success_at": as_utc(dt.datetime(2024, 6, 10)),
         "last_failure_at": None, "last_error": None, "payloads": 1, "items": 1, "quarantined": 0, "failures": 0},
    ]
    raw = [{"sha256": f"{i:064x}", "source": src, "url": f"https://feeds.example/{src}", "fetched_at": when,
            "http_status": 200, "size": 10, "content_type": "application/json", "normalised_version": 1}
           for i, (src, when) in enumerate([("who_don", as_utc(dt.datetime(2024, 6, 16, 23))),
                                            ("police_intake", as_utc(dt.datetime(2024, 6, 10)))], start=1)]
    events = [{"event_id": "ev-1", "alert_id": "alert-nga", "at": as_utc(dt.datetime(2024, 6, 12, 10)),
               "actor": "analyst.jones", "from_status": "new", "to_status": "triaged", "note": NOTE_NGA},
              {"event_id": "ev-2", "alert_id": "alert-nga", "at": as_utc(dt.datetime(2024, 6, 12, 11)),
               "actor": "analyst.jones", "from_status": "triaged", "to_status": "new", "note": ""}]
    feedback = [{"feedback_id": "fb-1", "alert_id": "alert-deu", "label": "relevant", "note": NOTE_DEU,
                 "actor": "det.sgt.meyer", "at": as_utc(dt.datetime(2024, 6, 13, 9))}]
    assessment = [{"incident_id": "inc-fra-1", "agent_key": "bacillus_anthracis", "agent_id": "NCBITaxon:1392",
                   "agent_name": "Bacillus anthracis", "agent_flags": {}, "indicator_total": 1, "verdict": "natural",
                   "unusual": [{"flag": "unusual_host", "evidence": "anthrax in a <i>zoo</i> animal"}],
                   "indicators": [{"number": 11, "indicator": "Disease seen in the region for the first time",
                                   "evidence": "first occurrence"}],
                   "cues": [{"category": "lab", "text": "laboratory", "sentence": "traced to a laboratory", "report_id": "who_don:DON502"}],
                   "rule_score": 1.0}]
    with engine.begin() as conn:
        upsert(conn, raw_payloads, raw)
        upsert(conn, reports, rep)
        upsert(conn, incidents, inc)
        upsert(conn, incident_reports, links)
        upsert(conn, signals, sig)
        upsert(conn, alerts, al)
        upsert(conn, source_health, health)
        upsert(conn, alert_events, events)
        upsert(conn, alert_feedback, feedback)
        upsert(conn, incident_assessments, assessment)
