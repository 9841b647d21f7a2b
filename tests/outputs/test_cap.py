"""CAP 1.2 export: every message validates against the OASIS XSD and follows the mapping in docs/OUTPUTS.md."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import defusedxml.ElementTree as SafeET
import pytest
import xmlschema

from biotracker.outputs.audience import INTERNAL, Audience
from biotracker.outputs.cap import CAP_NS, cap_schema, export_cap, validate_cap
from biotracker.outputs.records import load_output_data
from biotracker.schema import Tlp
from tests.outputs.sample_store import KINDS, LE_MARKER

FIXTURES = Path(__file__).parent / "fixtures"
NS = {"cap": CAP_NS}


def _parse(path: Path):
    return SafeET.fromstring(path.read_bytes())


def _text(root, xpath: str) -> str | None:
    el = root.find(xpath, NS)
    return None if el is None else el.text


def test_bundled_schema_accepts_a_real_producers_message_and_rejects_it_broken():
    real = (FIXTURES / "wcatwc-warning.cap").read_text(encoding="utf-8")
    validate_cap(real.encode())
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        validate_cap(real.replace("<msgType>Update</msgType>", "<msgType>Maybe</msgType>").encode())
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        validate_cap(real.replace("<sent>2011-09-02T11:36:50-00:00</sent>", "<sent>2011-09-02T11:36:50Z</sent>").encode())


def test_one_valid_message_per_alert_with_lifecycle_and_tier_mapping(store, tmp_path):
    _, engine = store
    data = load_output_data(engine, None, source_kinds=KINDS)
    result = export_cap(data, INTERNAL, tmp_path / "cap", sender="desk@biotracker.example",
                        sent_at=dt.datetime(2024, 6, 18, 8, 30, tzinfo=dt.timezone.utc))
    assert len(result.files) == 3 and result.marking == Tlp.AMBER_STRICT
    messages = {}
    for path in result.files:
        cap_schema().validate(str(path))  # each file on disk, independently of the exporter's own check
        messages[path.name.removesuffix(".cap.xml")] = _parse(path)

    nga, fra, deu = messages["alert-nga"], messages["alert-fra"], messages["alert-deu"]
    assert _text(nga, "cap:msgType") == "Alert" and _text(nga, "cap:identifier") == "alert-nga"
    assert _text(nga, "cap:sent") == "2024-06-17T00:00:00+00:00"
    assert _text(fra, "cap:msgType") == "Update"  # escalated
    assert _text(fra, "cap:references") == "desk@biotracker.example,alert-fra,2024-06-17T00:00:00+00:00"
    assert _text(fra, "cap:sent") == "2024-06-18T08:30:00+00:00"
    assert _text(deu, "cap:msgType") == "Cancel"  # dismissed
    assert _text(deu, "cap:info/cap:responseType") == "AllClear"
    # Tier -> urgency / severity / certainty.
    assert [_text(nga, f"cap:info/cap:{k}") for k in ("urgency", "severity", "certainty")] == ["Expected", "Severe", "Likely"]
    assert [_text(deu, f"cap:info/cap:{k}") for k in ("urgency", "severity", "certainty")] == ["Immediate", "Extreme", "Likely"]
    assert _text(nga, "cap:info/cap:category") == "Health"
    assert _text(nga, "cap:info/cap:area/cap:areaDesc") == "Nigeria"
    assert _text(nga, "cap:info/cap:area/cap:geocode/cap:value") == "NGA"
    # Law-enforcement audience: never Public; the TLP is stated.
    assert {_text(m, "cap:scope") for m in messages.values()} == {"Restricted"}
    assert _text(deu, "cap:code") == "TLP:AMBER+STRICT" and "TLP:AMBER+STRICT" in _text(deu, "cap:restriction")
    manifest = json.loads((tmp_path / "cap" / "MANIFEST.json").read_text())
    assert manifest["tlp"] == "TLP:AMBER+STRICT" and len(manifest["messages"]) == 3


def test_scope_is_public_only_for_clear_messages_to_a_wider_audience_and_private_with_an_address(store, tmp_path):
    _, engine = store
    data = load_output_data(engine, None, source_kinds=KINDS)
    public = export_cap(data, Audience("bulletin", Tlp.CLEAR, "public"), tmp_path / "public")
    assert [p.name for p in public.files] == ["alert-nga.cap.xml"]
    assert _text(_parse(public.files[0]), "cap:scope") == "Public"
    police = export_cap(data, Audience("desk", Tlp.RED, "law_enforcement", email="desk@police.example"), tmp_path / "p")
    root = _parse(police.files[0])
    assert _text(root, "cap:scope") == "Private" and _text(root, "cap:addresses") == "desk@police.example"


def test_re_export_to_a_narrower_audience_removes_messages_it_may_not_hold(store, tmp_path):
    _, engine = store
    data = load_output_data(engine, None, source_kinds=KINDS)
    out = tmp_path / "cap"
    export_cap(data, INTERNAL, out)
    export_cap(data, Audience("bulletin", Tlp.CLEAR, "public"), out)
    assert sorted(p.name for p in out.glob("*.cap.xml")) == ["alert-nga.cap.xml"]
    assert not any(LE_MARKER in p.read_text() for p in out.iterdir())
