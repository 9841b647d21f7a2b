"""`biotracker connectors …` as a data engineer uses it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import httpx
from typer.testing import CliRunner

from biotracker.cli.main import app
from biotracker.config import BUNDLED_RECORDINGS, Settings
from biotracker.ingest.record import record_fixture
from biotracker.ingest.replay import load_cassette
from biotracker.schema import UTC, SourceKind, Window
from biotracker.testing.transport import mock_client

runner = CliRunner()


def test_list_json_covers_every_kind_with_provenance() -> None:
    result = runner.invoke(app, ["connectors", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert len(rows) >= 12
    assert {r["kind"] for r in rows} == {k.value for k in SourceKind}
    for row in rows:
        assert {"name", "title", "kind", "url", "tlp", "fixture_provenance"} <= set(row)
        assert row["fixture_provenance"] and not row["fixture_provenance"].startswith("MISSING")
    real = [r for r in rows if r["recording"].startswith("real")]
    assert len(real) * 2 >= len(rows)
    constructed = [r for r in rows if r["recording"] == "constructed from documentation"]
    assert all("constructed" in r["fixture_provenance"] for r in constructed)
    assert {r["name"]: r["tlp"] for r in rows}["police_reports"] == "TLP:RED"


def test_list_table_names_each_connector() -> None:
    result = runner.invoke(app, ["connectors", "list"])
    assert result.exit_code == 0 and "who_don" in result.output and "replay real recordings" in result.output


def test_check_prints_every_check_and_exits_zero() -> None:
    result = runner.invoke(app, ["connectors", "check", "paho_alerts"])
    assert result.exit_code == 0, result.output
    assert "primary_key_unique" in result.output and "15 of 15 checks" in result.output


def test_check_of_an_unknown_connector_says_which_exist() -> None:
    result = runner.invoke(app, ["connectors", "check", "nope"])
    assert result.exit_code == 2 and "known" in result.output


def test_new_refuses_an_existing_name() -> None:
    result = runner.invoke(app, ["connectors", "new", "who_don", "--format", "rss"])
    assert result.exit_code == 2 and "already exists" in result.output


def test_record_writes_bodies_and_a_cassette_that_replays(tmp_path: Path) -> None:
    recorded = load_cassette(BUNDLED_RECORDINGS / "who_don")[1]
    bodies = {i.url.split("?", 1)[1][-10:]: i for i in recorded}

    def handler(request: httpx.Request) -> httpx.Response:
        item = next(i for key, i in bodies.items() if str(request.url).endswith(key))
        return httpx.Response(200, content=item.body, headers={"Content-Type": "application/json"})

    now = dt.datetime(2024, 11, 1, tzinfo=UTC)
    with mock_client(Settings(home=tmp_path), handler) as client:
        path = record_fixture("who_don", client, tmp_path / "who_don", Window(now - dt.timedelta(days=400), now), now)
    provenance, interactions = load_cassette(path.parent)
    assert "Recorded from the live service" in provenance and "2024-11-01" in provenance
    assert [i.body for i in interactions] == [i.body for i in recorded]
    assert (tmp_path / "who_don" / "page1.json").exists()
