"""Property: over random mixes of markings, intake channels and subscribers, no output leaks.

Every record gets a unique marker in its text. For each random subscriber we render the digest (HTML
and text), the email, the CAP messages, the STIX bundle and the JSON export, and check with a rule
written here, independently of the code under test:

- a record may reach an audience only if the audience's clearance allows the record's own marking and
  that of everything it was built from (an incident's reports; an alert's incident and linked reports),
  raised to AMBER+STRICT when any of them came in through law-enforcement intake, and law-enforcement
  intake only ever reaches law-enforcement audiences;
- every output (and every CAP message and STIX object) is marked at least as restrictively as each
  record whose marker it shows, and never above the audience's clearance.

Figures (examples, renders, markers checked, leaks) go to test-output/no-leak-figures.json.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from biotracker.config import load_settings
from biotracker.db.engine import open_store
from biotracker.db.tables import alert_events, alert_feedback, alerts, incident_reports, incidents, reports, signals
from biotracker.db.upsert import upsert
from biotracker.outputs.audience import AUDIENCE_KINDS, Audience
from biotracker.outputs.cap import cap_messages
from biotracker.outputs.digest import render_digest
from biotracker.outputs.jsonexport import json_document
from biotracker.outputs.mail import compose_digest_email
from biotracker.outputs.records import load_output_data
from biotracker.outputs.stix import TLP2_IDS, stix_bundle
from biotracker.schema import AlertStatus, AlertTier, SourceKind, Tlp, Window, as_utc

REPO = Path(__file__).resolve().parents[2]
FIGURES = REPO / "test-output" / "no-leak-figures.json"
WEEK = dt.date(2024, 6, 10)
DAY = WEEK + dt.timedelta(days=7)
SOURCES = {"who_don": SourceKind.PUBLIC_HEALTH, "hpai_outbreaks": SourceKind.VETERINARY,
           "police_intake": SourceKind.LAW_ENFORCEMENT}
DISEASES = ["cholera", "anthrax", "plague"]
COUNTRIES = ["NGA", "FRA", "DEU", "BRA"]
MARKER = re.compile(r"(?:RPT|INC|ALR|NOTE)-\d{3}X")
TLP_BY_ID = {v: k for k, v in TLP2_IDS.items()}
STATS = {"examples": 0, "audiences": 0, "renders": 0, "markers_checked": 0, "leaks": 0,
         "markers_by_kind": {"RPT": 0, "INC": 0, "ALR": 0, "NOTE": 0}, "withheld_checks": 0}

tlps = st.sampled_from(list(Tlp))
report_st = st.fixed_dictionaries({"tlp": tlps, "source": st.sampled_from(sorted(SOURCES)),
                                   "disease": st.sampled_from(DISEASES), "country": st.sampled_from(COUNTRIES)})
incident_st = st.fixed_dictionaries({"tlp": tlps, "reports": st.lists(report_st, min_size=1, max_size=3)})
alert_st = st.fixed_dictionaries({"tlp": tlps, "tier": st.sampled_from(list(AlertTier)),
                                  "status": st.sampled_from(list(AlertStatus)), "has_alert": st.booleans(),
                                  "note": st.sampled_from([None, "event", "feedback"])})
audience_st = st.builds(
    lambda i, clearance, kind, topics, regions, tier, email_: Audience(
        name=f"sub{i}", clearance=clearance, kind=kind, topics=frozenset(topics), regions=frozenset(regions),
        min_tier=tier, email=email_),
    st.integers(0, 999), tlps, st.sampled_from(AUDIENCE_KINDS),
    st.one_of(st.just([]), st.lists(st.sampled_from(DISEASES), max_size=2, unique=True)),
    st.one_of(st.just([]), st.lists(st.sampled_from([*COUNTRIES, "Africa", "Europe"]), max_size=2, unique=True)),
    st.sampled_from(list(AlertTier)), st.just("sub@agency.example"),
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return open_store(load_settings({}, home=str(tmp_path_factory.mktemp("noleak"))))


@pytest.fixture(scope="module")
def figures():
    """Counts what the property checked; written to test-output/ when the module is done."""
    yield STATS
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    FIGURES.write_text(json.dumps(STATS, indent=2) + "\n", encoding="utf-8")


def _store(engine, world) -> dict[str, tuple[Tlp, bool]]:
    """Write the random world; return marker -> (level, law_enforcement) by the rule in the docstring."""
    truth: dict[str, tuple[Tlp, bool]] = {}
    rep_rows, inc_rows, link_rows, alert_rows, event_rows, feedback_rows = [], [], [], [], [], []
    t = as_utc(dt.datetime(2024, 6, 11, 12))
    n = 0
    for k, (inc, al) in enumerate(world):
        inc_marker = f"INC-{k:03d}X"
        levels, le_any, urls = [inc["tlp"]], False, []
        first = inc["reports"][0]
        for rep in inc["reports"]:
            marker = f"RPT-{n:03d}X"
            n += 1
            le = SOURCES[rep["source"]] == SourceKind.LAW_ENFORCEMENT
            level = max([rep["tlp"], Tlp.AMBER_STRICT if le else Tlp.CLEAR], key=lambda m: m.rank)
            truth[marker] = (level, le)
            levels.append(level)
            le_any |= le
            url = f"https://src.example/{marker}"
            urls.append(url)
            rep_rows.append({"report_id": f"{rep['source']}:{marker}", "source": rep["source"], "source_id": marker,
                             "url": url, "title": f"report {marker}", "summary": "", "text": "", "published_at": t,
                             "observed_at": t, "disease": rep["disease"], "pathogen": None, "host": None,
                             "country_iso3": rep["country"], "admin_area": None, "lat": None, "lon": None,
                             "cases": 1, "deaths": None, "language": "en", "tlp": rep["tlp"].value,
                             "raw_sha256": None, "evidence": {}})
            link_rows.append({"incident_id": inc_marker, "report_id": f"{rep['source']}:{marker}"})
        inc_level = max(levels, key=lambda m: m.rank)
        truth[inc_marker] = (inc_level, le_any)
        inc_rows.append({"incident_id": inc_marker, "title": f"incident {inc_marker}", "disease": first["disease"],
                         "pathogen": None, "host": None, "country_iso3": first["country"], "first_seen_at": t,
                         "last_seen_at": t, "cases": 1, "deaths": None, "tlp": inc["tlp"].value})
        if al["has_alert"]:
            marker = f"ALR-{k:03d}X"
            truth[marker] = (max([al["tlp"], inc_level], key=lambda m: m.rank), le_any)
            alert_rows.append({"alert_id": marker, "incident_id": inc_marker, "signal_id": None, "period_start": WEEK,
                               "headline": f"alert {marker}", "tier": al["tier"].value, "reasons": [f"why {marker}"],
                               "status": al["status"].value, "tlp": al["tlp"].value, "country_iso3": first["country"],
                               "disease": first["disease"], "source_urls": urls})
            if al["note"]:
                note = f"NOTE-{k:03d}X"
                # Analysts' notes: never below TLP:AMBER, never below their alert.
                truth[note] = (max([Tlp.AMBER, truth[marker][0]], key=lambda m: m.rank), le_any)
                if al["note"] == "event":
                    event_rows.append({"event_id": note, "alert_id": marker, "at": t, "actor": "analyst",
                                       "from_status": "new", "to_status": al["status"].value, "note": f"saw {note}"})
                else:
                    feedback_rows.append({"feedback_id": note, "alert_id": marker, "label": "relevant",
                                          "note": f"saw {note}", "actor": "analyst", "at": t})
    with engine.begin() as conn:
        for table in (alert_events, alert_feedback, alerts, signals, incident_reports, incidents, reports):
            conn.execute(delete(table))
        upsert(conn, reports, rep_rows)
        upsert(conn, incidents, inc_rows)
        upsert(conn, incident_reports, link_rows)
        if alert_rows:
            upsert(conn, alerts, alert_rows)
        if event_rows:
            upsert(conn, alert_events, event_rows)
        if feedback_rows:
            upsert(conn, alert_feedback, feedback_rows)
    return truth


def _check(truth, audience: Audience, text: str, marking: Tlp, where: str) -> None:
    """Every marker in ``text`` is allowed for ``audience`` and covered by ``marking``."""
    assert audience.clearance.allows(marking), f"{where}: marked {marking} above clearance {audience.clearance}"
    for marker in set(MARKER.findall(text)):
        level, le = truth[marker]
        STATS["markers_checked"] += 1
        STATS["markers_by_kind"][marker.split("-")[0]] += 1
        allowed = audience.clearance.allows(level) and (audience.law_enforcement or not le)
        if not allowed or marking.rank < level.rank:
            STATS["leaks"] += 1
        assert allowed, f"{where}: {marker} ({level}, LE={le}) leaked to {audience}"
        assert marking.rank >= level.rank, f"{where}: {marker} needs {level} but the output is marked {marking}"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(world=st.lists(st.tuples(incident_st, alert_st), min_size=1, max_size=6),
       audiences=st.lists(audience_st, min_size=1, max_size=3))
def test_no_output_leaks_to_an_audience_not_cleared_for_it(engine, figures, world, audiences):
    truth = _store(engine, world)
    data = load_output_data(engine, None, source_kinds=SOURCES)
    STATS["examples"] += 1
    for audience in audiences:
        STATS["audiences"] += 1
        # Pairs of (audience, record) the rule forbids: every check below then proves the record absent.
        STATS["withheld_checks"] += sum(not (audience.clearance.allows(level) and (audience.law_enforcement or not le))
                                        for level, le in truth.values())
        digest = render_digest(data, audience, DAY, 7)
        _check(truth, audience, digest.html, digest.tlp, "digest html")
        _check(truth, audience, digest.text, digest.tlp, "digest text")
        assert f'<meta name="tlp" content="{digest.tlp}">' in digest.html

        msg = email.message_from_bytes(
            compose_digest_email(digest, mail_from="d@biotracker.example", sent_at=as_utc(DAY)).as_bytes(),
            policy=email.policy.default)
        assert msg["X-TLP"] == str(digest.tlp)
        body = msg["Subject"] + msg.get_body(("plain",)).get_content() + msg.get_body(("html",)).get_content()
        _check(truth, audience, body, digest.tlp, "email")

        _, messages = cap_messages(data, audience)
        for alert_id, xml in messages.items():
            code = re.search(r"<code>TLP:([A-Z+]+)</code>", xml).group(1)
            _check(truth, audience, xml, Tlp(code), f"CAP {alert_id}")

        delivery, bundle = stix_bundle(data, audience)
        for obj in json.loads(bundle.serialize())["objects"]:
            if obj["type"] == "marking-definition":
                continue
            marks = [TLP_BY_ID[m] for m in obj["object_marking_refs"]]
            _check(truth, audience, json.dumps(obj), max(marks, key=lambda m: m.rank), f"STIX {obj['id']}")
        _check(truth, audience, bundle.serialize(), delivery.marking, "STIX bundle")

        _, document = json_document(data, audience)
        _check(truth, audience, json.dumps(document), Tlp(document["tlp"]), "JSON")
        for record in [*document["alerts"], *document["incidents"], *document["notes"]]:
            _check(truth, audience, json.dumps(record), Tlp(record["tlp"]), "JSON record")
        STATS["renders"] += 6


# --- derived data respects markings ----------------------------------------------------------------
#
# Property: restricted reports placed on the same diseases, countries and weeks as public ones change
# nothing an audience not cleared for them receives. The real chain (clustering, series, detectors,
# risk lens, alerts, ranking) runs on a world of public reports alone, on that world plus every
# restricted report the audience may see, and on the world plus all restricted reports; the
# audience's outputs (digest HTML and text, email, CAP, STIX, JSON) must be byte-identical in the
# last two. Figures go to test-output/derived-leak-figures.json.

DERIVED_FIGURES = REPO / "test-output" / "derived-leak-figures.json"
DERIVED_STATS = {"examples": 0, "audiences": 0, "restricted_reports": 0, "renders_checked": 0,
                 "alerts_rendered": 0, "leaks": 0}
ALERT_DISEASES = ["smallpox", "cholera", "plague"]  # smallpox: eradicated, so its weeks always alert
LOOKBACK = 28
SCORED = Window(as_utc(DAY - dt.timedelta(weeks=80)), as_utc(DAY))

public_st = st.fixed_dictionaries({
    "source": st.sampled_from(["who_don", "hpai_outbreaks"]), "disease": st.sampled_from(ALERT_DISEASES),
    "country": st.sampled_from(COUNTRIES), "weeks_ago": st.sampled_from([1, 1, 2, 3, 20, 60, 70]),
    "cases": st.integers(0, 40), "deaths": st.integers(0, 20)})
restricted_st = st.fixed_dictionaries({
    "tlp": tlps, "source": st.sampled_from(sorted(SOURCES)), "near": st.integers(0, 10_000),
    "country": st.one_of(st.none(), st.sampled_from(COUNTRIES)), "cases": st.integers(0, 40),
    "deaths": st.integers(0, 20)})


def _report(i: int, source: str, tlp: Tlp, disease: str, country: str, weeks_ago: int, cases: int, deaths: int,
            tag: str) -> dict:
    at = as_utc(dt.datetime.combine(WEEK - dt.timedelta(weeks=weeks_ago - 1), dt.time(12)))
    marker = f"RPT-{i:03d}X"
    return {"report_id": f"{source}:{tag}{marker}", "source": source, "source_id": f"{tag}{marker}",
            "url": f"https://src.example/{tag}{marker}", "title": f"{disease} in {country}: report {marker}",
            "summary": f"{cases} cases and {deaths} deaths of {disease} reported in {country}.", "text": "",
            "published_at": at, "observed_at": at, "disease": disease, "pathogen": None, "host": "human",
            "country_iso3": country, "admin_area": None, "lat": None, "lon": None, "cases": cases,
            "deaths": deaths, "language": "en", "tlp": tlp.value, "raw_sha256": None, "evidence": {}}


def _restricted(public: list[dict], spec: dict, i: int) -> dict | None:
    """A restricted report on the disease and week of a public one (its country or another)."""
    base = public[spec["near"] % len(public)]
    le = SOURCES[spec["source"]] == SourceKind.LAW_ENFORCEMENT
    if not le and spec["tlp"] == Tlp.CLEAR:
        return None  # a public report: not what this property is about
    at = base["observed_at"]
    weeks_ago = (WEEK - at.date()).days // 7 + 1
    return _report(100 + i, spec["source"], spec["tlp"], base["disease"], spec["country"] or base["country_iso3"],
                   weeks_ago, spec["cases"], spec["deaths"], "R")


def _derive(engine, rows: list[dict], home) -> None:
    from biotracker.alerts.refresh import refresh_derived
    from biotracker.db.tables import incident_assessments

    with engine.begin() as conn:
        for table in (alert_events, alert_feedback, alerts, signals, incident_assessments, incident_reports,
                      incidents, reports):
            conn.execute(delete(table))
        upsert(conn, reports, rows)
    refresh_derived(engine, SCORED, home / "no-models", full=True, source_kinds=SOURCES)


def _outputs(engine, audience: Audience) -> dict[str, str]:
    from biotracker.outputs.digest import digest_window

    data = load_output_data(engine, digest_window(DAY, LOOKBACK), source_kinds=SOURCES, audience=audience,
                            health_at=as_utc(DAY))
    digest = render_digest(data, audience, DAY, LOOKBACK)
    msg = email.message_from_bytes(
        compose_digest_email(digest, mail_from="d@biotracker.example", sent_at=as_utc(DAY)).as_bytes(),
        policy=email.policy.default)
    mail = "\n".join([msg["Subject"], msg["X-TLP"], msg.get_body(("plain",)).get_content(),
                      msg.get_body(("html",)).get_content()])  # Message-ID and MIME boundaries are random
    _, messages = cap_messages(data, audience, sent_at=as_utc(DAY))
    _, bundle = stix_bundle(data, audience)
    _, document = json_document(data, audience)
    DERIVED_STATS["alerts_rendered"] += len(digest.delivery.of_kind("alert"))
    return {"digest.html": digest.html, "digest.txt": digest.text, "email": mail,
            "cap": json.dumps(messages, sort_keys=True), "stix": bundle.serialize(sort_keys=True),
            "json": json.dumps(document, sort_keys=True, default=str)}


@pytest.fixture(scope="module")
def derived_figures():
    yield DERIVED_STATS
    DERIVED_FIGURES.parent.mkdir(parents=True, exist_ok=True)
    DERIVED_FIGURES.write_text(json.dumps(DERIVED_STATS, indent=2) + "\n", encoding="utf-8")
    print(f"\nderived-data leak property: {DERIVED_STATS}")


@pytest.fixture(scope="module")
def two_stores(tmp_path_factory):
    home = tmp_path_factory.mktemp("derived")
    return (open_store(load_settings({}, home=str(home / "a"))), open_store(load_settings({}, home=str(home / "b"))),
            home)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(public=st.lists(public_st, min_size=3, max_size=12), restricted=st.lists(restricted_st, min_size=1, max_size=8),
       audiences=st.lists(audience_st, min_size=1, max_size=2))
def test_restricted_reports_change_no_output_for_an_audience_not_cleared_for_them(
        two_stores, derived_figures, public, restricted, audiences):
    with_all, with_visible, home = two_stores
    rows = [_report(i, p["source"], Tlp.CLEAR, p["disease"], p["country"], p["weeks_ago"], p["cases"], p["deaths"],
                    "P") for i, p in enumerate(public)]
    extra = [r for r in (_restricted(rows, spec, i) for i, spec in enumerate(restricted)) if r is not None]
    DERIVED_STATS["examples"] += 1
    DERIVED_STATS["restricted_reports"] += len(extra)
    _derive(with_all, rows + extra, home)
    for audience in audiences:
        DERIVED_STATS["audiences"] += 1
        le = {r["report_id"]: SOURCES[r["source"]] == SourceKind.LAW_ENFORCEMENT for r in extra}
        visible = [r for r in extra if (audience.law_enforcement or not le[r["report_id"]])
                   and audience.clearance.allows(max([Tlp(r["tlp"]), Tlp.AMBER_STRICT if le[r["report_id"]]
                                                      else Tlp.CLEAR], key=lambda m: m.rank))]
        _derive(with_visible, rows + visible, home)
        want, got = _outputs(with_visible, audience), _outputs(with_all, audience)
        for name in want:
            DERIVED_STATS["renders_checked"] += 1
            if got[name] != want[name]:
                DERIVED_STATS["leaks"] += 1
            assert got[name] == want[name], (
                f"{name} for {audience} changed when reports it may not see were added: "
                f"{[(r['tlp'], r['source'], r['disease'], r['country_iso3']) for r in extra if r not in visible]}")
