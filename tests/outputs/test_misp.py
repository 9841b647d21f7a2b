"""MISP feed export: what a MISP instance pulls, checked the way PyMISP and MISP read it."""

from __future__ import annotations

import csv
import datetime as dt
import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from pymisp import MISPEvent
from sqlalchemy import update
from typer.testing import CliRunner

from biotracker.db.tables import incident_assessments, incidents, reports
from biotracker.errors import PublishError
from biotracker.outputs.audience import INTERNAL, Audience
from biotracker.outputs.misp import (
    DISTRIBUTION,
    TAXONOMY_FILE,
    agent_tags,
    distribution_for,
    event_uuid,
    export_misp,
    origin_assessment,
    taxonomy,
    taxonomy_tags,
    with_all_assessments,
)
from biotracker.outputs.records import load_output_data
from biotracker.schema import Tlp
from tests.outputs.sample_store import KINDS, LE_MARKER

T1 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
T2 = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
T3 = dt.datetime(2026, 1, 3, tzinfo=dt.UTC)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "misp"
PREDICATES_ON_EVERY_EVENT = (
    "select-agent",
    "tier-1",
    "cdc-category",
    "australia-group",
    "woah-listed",
    "who-priority",
    "origin-assessment",
    "origin-assessment-tool",
    "alert-tier",
)


def pymisp_event_schema() -> dict:
    """The event schema PyMISP validates against by default (shipped in the installed package)."""
    return json.loads(resources.files("pymisp").joinpath("data/schema-lax.json").read_text(encoding="utf-8"))


def events_in(folder: Path) -> dict[str, dict]:
    return {
        p.stem: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(folder.glob("*.json"))
        if p.name != "manifest.json"
    }


def export(store, audience=INTERNAL, folder: Path | None = None, now=T1, **kwargs):
    settings, engine = store
    data = with_all_assessments(load_output_data(engine, None, source_kinds=KINDS), engine)
    return export_misp(data, audience, folder or settings.home / "feed", now=now, **kwargs)


def set_marking(engine, incident_id: str, report_id: str, marking: Tlp) -> None:
    with engine.begin() as conn:
        conn.execute(update(incidents).where(incidents.c.incident_id == incident_id).values(tlp=marking.value))
        conn.execute(update(reports).where(reports.c.report_id == report_id).values(tlp=marking.value))


def test_every_event_loads_back_in_pymisp_and_validates(store, tmp_path):
    result = export(store, folder=tmp_path / "feed")
    events = events_in(tmp_path / "feed")
    assert result.counts["events"] == len(events) == 4
    schema = pymisp_event_schema()
    manifest = json.loads((tmp_path / "feed" / "manifest.json").read_text())
    assert set(manifest) == set(events)
    for uuid, doc in events.items():
        jsonschema.validate(doc, schema)
        event = MISPEvent()
        event.load_file(tmp_path / "feed" / f"{uuid}.json")
        assert event.uuid == uuid and event.Orgc.name == "Biotracker"
        for obj in event.objects:
            assert obj._validate()  # against PyMISP's shipped misp-objects template of that name
        assert int(manifest[uuid]["timestamp"]) == int(doc["Event"]["timestamp"]) and manifest[uuid]["info"] == event.info
        # hashes.csv: an md5 of every attribute value, with the event it belongs to.
        values = [a.value for a in event.attributes] + [a.value for o in event.objects for a in o.attributes]
        assert len(values) == len(event.attributes_hashes("md5"))
    rows = list(csv.reader((tmp_path / "feed" / "hashes.csv").open()))
    assert {r[1] for r in rows} == set(events) and all(len(r[0]) == 32 for r in rows)
    names = {o.name for uuid in events for o in _load(tmp_path / "feed", uuid).objects}
    assert names == {"report", "geolocation", "cap-alert", "cap-info"}


def _load(folder: Path, uuid: str) -> MISPEvent:
    event = MISPEvent()
    event.load_file(folder / f"{uuid}.json")
    return event


def test_an_incident_becomes_one_event_with_its_reports_place_counts_and_cap_summary(store, tmp_path):
    export(store, folder=tmp_path)
    event = _load(tmp_path, event_uuid("inc-fra-1"))
    assert event.info.startswith("Anthrax - France")
    by_comment = {a.comment: a.value for a in event.attributes}
    assert by_comment["disease"] == "anthrax" and by_comment["cases"] == "3" and by_comment["deaths"] == "0"
    assert by_comment["biotracker incident"] == "inc-fra-1"
    report = next(o for o in event.objects if o.name == "report")
    assert report.get_attributes_by_relation("link")[0].value == "https://example.org/fra"
    place = next(o for o in event.objects if o.name == "geolocation")
    assert place.get_attributes_by_relation("countrycode")[0].value == "FR"
    cap_info = next(o for o in event.objects if o.name == "cap-info")
    assert cap_info.get_attributes_by_relation("severity")[0].value == "Moderate"  # tier medium
    cap_alert = next(o for o in event.objects if o.name == "cap-alert")
    assert cap_alert.get_attributes_by_relation("msgType")[0].value == "Update"  # escalated
    assert [r.referenced_uuid for r in cap_alert.references] == [cap_info.uuid]
    assert int(event.threat_level_id) == 2
    # A javascript: link is not a source link; the report keeps its title but gets no link attribute.
    nga = _load(tmp_path, event_uuid("inc-nga-2"))
    assert [o.get_attributes_by_relation("link") for o in nga.objects if o.name == "report"] == [[]]


def test_uuids_are_stable_across_runs_and_folders(store, tmp_path):
    export(store, folder=tmp_path / "a")
    export(store, folder=tmp_path / "b", now=T2)
    a, b = events_in(tmp_path / "a"), events_in(tmp_path / "b")
    assert set(a) == set(b) and event_uuid("inc-nga-1") in a

    def uuids(doc: dict) -> list[str]:
        event = doc["Event"]
        return sorted(
            [a["uuid"] for a in event.get("Attribute", [])]
            + [o["uuid"] for o in event.get("Object", [])]
            + [x["uuid"] for o in event.get("Object", []) for x in o["Attribute"]]
        )

    assert all(uuids(a[u]) == uuids(b[u]) for u in a)


def test_timestamp_moves_only_when_the_incident_changes(store, tmp_path):
    _, engine = store
    first = export(store, folder=tmp_path, now=T1)
    assert first.changed == 4
    again = export(store, folder=tmp_path, now=T2)
    assert again.changed == 0
    assert {d["Event"]["timestamp"] for d in events_in(tmp_path).values()} == {str(int(T1.timestamp()))}
    with engine.begin() as conn:
        conn.execute(update(incidents).where(incidents.c.incident_id == "inc-nga-1").values(cases=40))
    third = export(store, folder=tmp_path, now=T3)
    assert third.changed == 1
    stamps = {u: d["Event"]["timestamp"] for u, d in events_in(tmp_path).items()}
    assert stamps.pop(event_uuid("inc-nga-1")) == str(int(T3.timestamp()))
    assert set(stamps.values()) == {str(int(T1.timestamp()))}
    changed = _load(tmp_path, event_uuid("inc-nga-1"))
    assert {a.timestamp for a in changed.attributes} == {T3}  # MISP updates attributes only when newer
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert int(manifest[event_uuid("inc-nga-1")]["timestamp"]) == int(T3.timestamp())


@pytest.mark.parametrize(
    ("marking", "sharing_group", "distribution"),
    [
        (Tlp.CLEAR, None, 3),
        (Tlp.GREEN, None, 1),
        (Tlp.AMBER, None, 0),
        (Tlp.AMBER, "bio-partners", 4),
        (Tlp.AMBER_STRICT, None, 0),
        (Tlp.AMBER_STRICT, "bio-partners", 0),
    ],
)
def test_distribution_follows_the_marking(store, tmp_path, marking, sharing_group, distribution):
    _, engine = store
    set_marking(engine, "inc-nga-2", "who_don:DON501", marking)
    export(store, folder=tmp_path, sharing_group=sharing_group)
    doc = json.loads((tmp_path / f"{event_uuid('inc-nga-2')}.json").read_text())["Event"]
    assert int(doc["distribution"]) == distribution == distribution_for(marking, sharing_group)
    tlp_tags = [t["name"] for t in doc["Tag"] if t["name"].startswith("tlp:")]
    assert tlp_tags == [f"tlp:{marking.value.lower()}"]
    if distribution == 4:
        assert doc["SharingGroup"]["name"] == sharing_group
    else:
        assert "SharingGroup" not in doc
    # Objects and attributes inherit the event's distribution; none widens it.
    assert {int(o["distribution"]) for o in doc["Object"]} == {5}
    assert {int(a["distribution"]) for a in doc["Attribute"]} == {5}


def test_red_is_never_exported_even_to_an_audience_cleared_for_it(store, tmp_path):
    _, engine = store
    assert DISTRIBUTION[Tlp.RED] is None
    with pytest.raises(PublishError, match="never exported"):
        distribution_for(Tlp.RED)
    set_marking(engine, "inc-nga-2", "who_don:DON501", Tlp.RED)
    result = export(store, folder=tmp_path / "feed")
    events = events_in(tmp_path / "feed")
    assert event_uuid("inc-nga-2") not in events and len(events) == 3
    everything = "".join(p.read_text() for p in (tmp_path / "feed").iterdir())
    assert "tlp:red" not in everything and "Cholera - Nigeria (update)" not in everything
    assert "DON501" not in everything
    assert result.marking != Tlp.RED and result.withheld >= 2  # the RED incident and its report


def test_a_wider_audience_gets_only_what_it_may_read_and_stale_events_are_removed(store, tmp_path):
    export(store, folder=tmp_path / "feed")  # internal: all four, including the law-enforcement one
    assert event_uuid("inc-deu-1") in events_in(tmp_path / "feed")
    green = Audience("health-partners", Tlp.GREEN, "public_health")
    result = export(store, audience=green, folder=tmp_path / "feed")
    events = events_in(tmp_path / "feed")
    assert set(events) == {event_uuid("inc-nga-1"), event_uuid("inc-nga-2")}
    everything = "".join(p.read_text() for p in (tmp_path / "feed").iterdir())
    assert LE_MARKER not in everything and "Anthrax" not in everything and "PI-1" not in everything
    assert result.marking == Tlp.CLEAR and result.withheld > 0
    assert all(int(d["Event"]["distribution"]) == 3 for d in events.values())


def test_law_enforcement_intake_is_organisation_only_even_when_declared_clear(store, tmp_path):
    export(store, folder=tmp_path)
    doc = json.loads((tmp_path / f"{event_uuid('inc-deu-1')}.json").read_text())["Event"]
    assert [t["name"] for t in doc["Tag"] if t["name"].startswith("tlp:")] == ["tlp:amber+strict"]
    assert int(doc["distribution"]) == 0


def test_taxonomy_validates_against_the_misp_taxonomies_schema():
    schema = json.loads((FIXTURES / "misp-taxonomies-schema.json").read_text())
    machinetag = taxonomy()
    jsonschema.Draft4Validator.check_schema(schema)
    jsonschema.Draft4Validator(schema).validate(machinetag)
    assert Path(TAXONOMY_FILE).parent.name == machinetag["namespace"] == "biotracker"
    predicates = [p["value"] for p in machinetag["predicates"]]
    assert len(predicates) == len(set(predicates))
    for group in machinetag["values"]:
        assert group["predicate"] in predicates
        values = [e["value"] for e in group["entry"]]
        assert len(values) == len(set(values)) and values
    assert set(PREDICATES_ON_EVERY_EVENT) | {"unusual"} == set(predicates)


def test_every_unusualness_flag_has_a_value_in_the_taxonomy():
    """A flag added to the lens (scoring/unusual.py) needs its taxonomy value, or the export refuses it."""
    from biotracker.scoring.unusual import Flag

    unusual = next(g for g in taxonomy()["values"] if g["predicate"] == "unusual")
    assert {f.value.replace("_", "-") for f in Flag} <= {e["value"] for e in unusual["entry"]}


def test_every_event_carries_the_biotracker_tags_and_reliability(store, tmp_path):
    export(store, folder=tmp_path)
    known = taxonomy_tags()
    for doc in events_in(tmp_path).values():
        names = [t["name"] for t in doc["Event"]["Tag"]]
        ours = [n for n in names if n.startswith("biotracker:")]
        assert set(ours) <= known
        for predicate in PREDICATES_ON_EVERY_EVENT:
            assert sum(n.startswith(f"biotracker:{predicate}=") for n in ours) == 1, (predicate, names)
        assert sum(n.startswith("admiralty-scale:source-reliability=") for n in names) == 1
        assert sum(n.startswith("admiralty-scale:information-credibility=") for n in names) == 1
    fra = [t["name"] for t in events_in(tmp_path)[event_uuid("inc-fra-1")]["Event"]["Tag"]]
    assert 'biotracker:unusual="unusual-host"' in fra and 'biotracker:alert-tier="medium"' in fra
    assert 'biotracker:origin-assessment="natural"' in fra


def test_agent_flags_become_tags(store, tmp_path):
    _, engine = store
    flags = {"select_agent": "OVERLAP", "tier1": True, "cdc_category": "A", "australia_group": True,
             "woah_listed": True, "who_priority": False}
    with engine.begin() as conn:
        conn.execute(
            update(incident_assessments).where(incident_assessments.c.incident_id == "inc-fra-1").values(agent_flags=flags)
        )
    export(store, folder=tmp_path)
    names = {t["name"] for t in events_in(tmp_path)[event_uuid("inc-fra-1")]["Event"]["Tag"]}
    assert {'biotracker:select-agent="overlap"', 'biotracker:tier-1="yes"', 'biotracker:cdc-category="a"',
            'biotracker:australia-group="yes"', 'biotracker:woah-listed="yes"', 'biotracker:who-priority="no"'} <= names
    assert agent_tags(None)[0] == 'biotracker:select-agent="undetermined"'


@pytest.mark.parametrize(
    ("verdict", "cues", "origin"),
    [
        ("natural epidemic", [{"category": "laboratory"}], "natural"),
        ("probable deliberate or accidental outbreak", [{"category": "escape_release"}], "accidental"),
        ("highly probable deliberate or accidental outbreak", [{"category": "theft_diversion"}], "deliberate"),
        ("probable deliberate or accidental outbreak", [], "undetermined"),
        ("probable deliberate or accidental outbreak",
         [{"category": "laboratory"}, {"category": "claim_threat"}], "undetermined"),
    ],
)
def test_origin_assessment_names_its_tool(verdict, cues, origin):
    assert origin_assessment({"verdict": verdict, "cues": cues}) == (origin, "radosavljevic-belojevic")
    assert origin_assessment(None) == ("undetermined", "none")


def test_export_misp_command(store, tmp_path, monkeypatch):
    settings, _ = store
    monkeypatch.setenv("BIOTRACKER_HOME", str(settings.home))
    subs = tmp_path / "subs.toml"
    subs.write_text('[[subscriber]]\nname = "bulletin"\nkind = "public"\nclearance = "CLEAR"\n')
    monkeypatch.setenv("BIOTRACKER_SUBSCRIBERS_FILE", str(subs))
    from biotracker.cli.main import app

    runner = CliRunner()
    out = runner.invoke(app, ["export", "misp", "--output", str(tmp_path / "feed"), "--audience", "bulletin", "--json"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.output)
    # The CLI takes source kinds from the connector registry, where "police_intake" is not a connector,
    # so its declared CLEAR marking stands there (as for CAP/STIX/JSON); the AMBER anthrax incident is held back.
    assert summary["events"] == 3 and summary["tlp"] == "CLEAR" and summary["changed"] == 3
    assert "Anthrax" not in "".join(p.read_text() for p in (tmp_path / "feed").iterdir())
    out = runner.invoke(
        app, ["export", "misp", "--output", str(tmp_path / "org"), "--org", "Bureau X", "--clearance", "AMBER", "--json"]
    )
    assert out.exit_code == 0, out.output
    assert {d["Event"]["Orgc"]["name"] for d in events_in(tmp_path / "org").values()} == {"Bureau X"}
    bad = runner.invoke(app, ["export", "misp", "--audience", "nobody"])
    assert bad.exit_code == 2 and "no subscriber named 'nobody'" in bad.output
