"""The loader reads the same records, origins and markings from SQLite and PostgreSQL."""

from __future__ import annotations

import json

from biotracker.config import load_settings
from biotracker.db.engine import open_store
from biotracker.outputs.audience import INTERNAL
from biotracker.outputs.jsonexport import json_document
from biotracker.outputs.records import load_output_data
from biotracker.schema import Tlp
from tests.outputs.sample_store import KINDS, populate


def test_loader_gives_origins_markings_and_notes_on_both_databases(database_url, tmp_path):
    settings = load_settings({}, home=str(tmp_path), database_url=database_url)
    engine = open_store(settings)
    populate(engine)
    data = load_output_data(engine, None, source_kinds=KINDS)
    by_key = {i.key: i for i in data.items}
    assert by_key["alert-deu"].law_enforcement and by_key["alert-deu"].tlp == Tlp.AMBER_STRICT
    assert by_key["alert-deu"].sources == frozenset({"police_intake"})
    assert by_key["alert-nga"].sources == frozenset({"who_don"}) and by_key["alert-nga"].tlp == Tlp.CLEAR
    assert by_key["inc-fra-1"].tlp == Tlp.AMBER and not by_key["inc-fra-1"].law_enforcement
    assert [n.key for n in data.notes] == ["event:ev-1", "feedback:fb-1"]  # the status change without a note is not one
    assert [p.observed for p in data.scored_series(by_key["alert-nga"].record)][-3:] == [1, 0, 2]
    assert data.assessments["inc-fra-1"]["indicators"][0]["number"] == 11
    _, document = json_document(data, INTERNAL)
    assert [a["alert_id"] for a in json.loads(json.dumps(document))["alerts"]] == ["alert-deu", "alert-fra", "alert-nga"]
