"""STIX 2.1 bundle (validated with the OASIS validator) and the JSON export, through the CLI as users run them."""

from __future__ import annotations

import json

from stix2validator import ValidationOptions, validate_file
from typer.testing import CliRunner

from biotracker.outputs.audience import INTERNAL, Audience
from biotracker.outputs.jsonexport import export_json
from biotracker.outputs.records import load_output_data
from biotracker.outputs.stix import TLP2_EXTENSION, TLP2_IDS, export_stix, language_tag
from biotracker.schema import Tlp
from tests.outputs.sample_store import KINDS, LE_MARKER

#: {302}: external references with a URL should carry a hash of the linked page; we link the
#: source's page, which we do not hold, so there is no honest hash to give.
VALIDATION = ValidationOptions(strict=True, disabled=["302"])


def _problems(result) -> list[str]:
    return [str(e) for o in result.object_results for e in (*o.errors, *o.warnings)]


def test_stix_bundle_validates_and_marks_every_object_with_tlp2(store, tmp_path):
    _, engine = store
    data = load_output_data(engine, None, source_kinds=KINDS)
    result = export_stix(data, INTERNAL, tmp_path / "bundle.json")
    check = validate_file(str(result.path), VALIDATION)
    assert check.is_valid and _problems(check) == []
    bundle = json.loads(result.path.read_text())
    by_type: dict[str, list[dict]] = {}
    for obj in bundle["objects"]:
        by_type.setdefault(obj["type"], []).append(obj)
    assert len(by_type["incident"]) == 4 and len(by_type["report"]) == 4
    analyst = [o for o in by_type["note"] if "analyst-note" in o.get("labels", [])]
    assert len(by_type["note"]) == 3 + 2 and sorted(a for o in analyst for a in o["authors"]) == ["analyst.jones", "det.sgt.meyer"]
    assert {o["object_marking_refs"][0] for o in analyst} == {TLP2_IDS[Tlp.AMBER], TLP2_IDS[Tlp.AMBER_STRICT]}
    assert {o["country"] for o in by_type["location"]} == {"NG", "FR", "DE"}
    definitions = {o["id"]: o for o in by_type["marking-definition"]}
    for obj in bundle["objects"]:
        if obj["type"] != "marking-definition":
            assert len(obj["object_marking_refs"]) == 1 and obj["object_marking_refs"][0] in definitions
    assert definitions[TLP2_IDS[Tlp.AMBER_STRICT]]["extensions"][TLP2_EXTENSION]["tlp_2_0"] == "amber+strict"
    le_incident = next(o for o in by_type["incident"] if o["name"] == LE_MARKER)
    assert le_incident["object_marking_refs"] == [TLP2_IDS[Tlp.AMBER_STRICT]]
    assert result.marking == Tlp.AMBER_STRICT


def test_report_languages_become_rfc5646_tags_or_are_left_out():
    assert [language_tag(v) for v in ("en", "fr-CA", "English", "Klingonish", None)] == ["en", "fr-CA", "en", None, None]


def test_stix_export_is_reproducible_and_filtered(store, tmp_path):
    _, engine = store
    data = load_output_data(engine, None, source_kinds=KINDS)
    a = export_stix(data, INTERNAL, tmp_path / "a.json").path.read_text()
    assert export_stix(data, INTERNAL, tmp_path / "b.json").path.read_text() == a
    green = export_stix(data, Audience("g", Tlp.GREEN, "partner"), tmp_path / "g.json")
    text = green.path.read_text()
    assert LE_MARKER not in text and "Anthrax" not in text and "intake.police" not in text
    assert green.marking == Tlp.CLEAR and TLP2_IDS[Tlp.AMBER] not in text
    assert validate_file(str(green.path), VALIDATION).is_valid


def test_json_export_holds_alerts_and_incidents_with_enforced_markings(store, tmp_path):
    _, engine = store
    data = load_output_data(engine, None, source_kinds=KINDS)
    doc = json.loads(export_json(data, INTERNAL, tmp_path / "x.json").path.read_text())
    assert doc["format"] == "biotracker-export" and doc["tlp"] == "AMBER+STRICT"
    assert [a["alert_id"] for a in doc["alerts"]] == ["alert-deu", "alert-fra", "alert-nga"]
    assert len(doc["incidents"]) == 4
    assert [(n["alert_id"], n["actor"], n["tlp"]) for n in doc["notes"]] == [
        ("alert-nga", "analyst.jones", "AMBER"), ("alert-deu", "det.sgt.meyer", "AMBER+STRICT")]
    deu = next(a for a in doc["alerts"] if a["alert_id"] == "alert-deu")
    assert deu["tlp"] == "AMBER+STRICT"  # declared CLEAR, but it came in through law-enforcement intake
    public = json.loads(export_json(data, Audience("p", Tlp.CLEAR, "public"), tmp_path / "p.json").path.read_text())
    assert [a["alert_id"] for a in public["alerts"]] == ["alert-nga"] and public["tlp"] == "CLEAR"
    assert public["notes"] == []


def test_export_commands_write_cap_stix_and_json(store, tmp_path, monkeypatch):
    settings, engine = store
    monkeypatch.setenv("BIOTRACKER_HOME", str(settings.home))
    subs = tmp_path / "subs.toml"
    subs.write_text('[[subscriber]]\nname = "bulletin"\nkind = "public"\nclearance = "CLEAR"\n')
    monkeypatch.setenv("BIOTRACKER_SUBSCRIBERS_FILE", str(subs))
    from biotracker.cli.main import app

    runner = CliRunner()
    # The CLI takes source kinds from the connector registry, where "police_intake" is not a connector,
    # so here its declared CLEAR marking stands; the AMBER anthrax alert is still held back from "bulletin".
    out = runner.invoke(app, ["export", "cap", "--output", str(tmp_path / "cap"), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["messages"] == 3
    out = runner.invoke(app, ["export", "stix", "--output", str(tmp_path / "bundle.json"), "--json"])
    assert out.exit_code == 0, out.output
    assert validate_file(str(tmp_path / "bundle.json"), VALIDATION).is_valid
    out = runner.invoke(app, ["export", "json", "--output", str(tmp_path / "e.json"), "--subscriber", "bulletin"])
    assert out.exit_code == 0, out.output
    doc = json.loads((tmp_path / "e.json").read_text())
    assert doc["audience"]["name"] == "bulletin" and all(a["tlp"] == "CLEAR" for a in doc["alerts"])
    assert "Anthrax" not in (tmp_path / "e.json").read_text()
    bad = runner.invoke(app, ["export", "json", "--subscriber", "nobody"])
    assert bad.exit_code == 2 and "no subscriber named 'nobody'" in bad.output
