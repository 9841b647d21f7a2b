"""A plain feed is one entry in connectors/feeds.yaml plus a recording: the registry and the
conformance kit pick it up with no other change."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from biotracker.errors import ConfigError
from biotracker.ingest import registry
from biotracker.ingest.declarative import load_entries
from biotracker.ingest.scaffold import scaffold_connector
from biotracker.testing.connector_checks import CHECKS, Harness, check_ids, run_checks

REPO = Path(__file__).resolve().parents[2]
FEEDS = REPO / "connectors" / "feeds.yaml"
RECORDINGS = REPO / "tests" / "fixtures" / "feeds"

NEW_ENTRY = """
  - name: gdacs_alerts_plain
    format: rss
    title: GDACS alerts as a plain RSS feed
    kind: context
    url: https://www.gdacs.org/xml/rss.xml
    terms: https://www.gdacs.org/About/termsofuse.aspx
    cadence: "@hourly"
"""


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A copy of the feeds file and of the recordings that the registry reads instead of the real ones."""
    feeds = tmp_path / "feeds.yaml"
    shutil.copy(FEEDS, feeds)
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    for folder in RECORDINGS.iterdir():
        if folder.is_dir():
            (recordings / folder.name).symlink_to(folder)
    monkeypatch.setattr(registry, "feeds_file", lambda: feeds)
    registry.connector_classes.cache_clear()
    yield feeds, recordings
    registry.connector_classes.cache_clear()


def add_recording(recordings: Path, name: str) -> None:
    folder = recordings / name
    folder.mkdir()
    shutil.copy(RECORDINGS / "gdacs" / "gdacs-rss.xml", folder / "gdacs-rss.xml")
    (folder / "cassette.yaml").write_text(
        "provenance: real GDACS GeoRSS, exxamalte/python-aio-georss-gdacs samples/gdacs-rss.xml "
        "@ bc142ca00edb47937fa3c838c0f5b10c5a669e24 (Apache-2.0)\nrecording: real\ninteractions:\n"
        "  - url: https://www.gdacs.org/xml/rss.xml\n    content_type: application/rss+xml\n"
        "    body_file: gdacs-rss.xml\n", encoding="utf-8")


def test_a_new_entry_and_its_recording_are_registered_and_fully_checked(sandbox) -> None:
    feeds, recordings = sandbox
    feeds.write_text(feeds.read_text() + NEW_ENTRY)
    add_recording(recordings, "gdacs_alerts_plain")
    assert ("gdacs_alerts_plain", "report_snapshot") in check_ids()  # the test suite parametrises over this

    [before] = run_checks("gdacs_alerts_plain", recordings, only=["report_snapshot"])
    assert before.status == "failed" and "--update-snapshot" in before.message

    Harness("gdacs_alerts_plain", recordings).write_snapshot()  # what `connectors check --update-snapshot` does
    after = run_checks("gdacs_alerts_plain", recordings)
    assert [r.check for r in after] == list(CHECKS)
    assert {r.status for r in after} == {"passed"}, [r for r in after if r.status != "passed"]
    reports = Harness("gdacs_alerts_plain", recordings).outcome().reports
    assert len(reports) == 16 and reports[0].title.startswith("Green alert for tropical cyclone CALVINIA-19")


def test_a_broken_entry_fails_fast_naming_the_entry(sandbox) -> None:
    feeds, _ = sandbox
    feeds.write_text(feeds.read_text() + NEW_ENTRY.replace("kind: context", "kind: gossip"))
    with pytest.raises(ConfigError, match="feed 'gdacs_alerts_plain' is invalid: kind"):
        registry.connector_classes()


def test_a_name_used_twice_is_refused(sandbox) -> None:
    feeds, _ = sandbox
    feeds.write_text(feeds.read_text() + NEW_ENTRY.replace("gdacs_alerts_plain", "who_don"))
    with pytest.raises(ConfigError, match="declared both in connectors/who_don.py and in"):
        registry.connector_classes()


def test_json_entries_need_items_and_a_primary_key(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n  - {name: x, format: json, title: X, kind: osint, url: 'https://x.org', terms: t}\n")
    with pytest.raises(ConfigError, match="items"):
        load_entries(feeds)


def test_queries_expand_into_one_request_each() -> None:
    google = registry.get_connector("google_news")
    urls = google.start_urls(None)
    assert len(urls) == 4 and all("news.google.com/rss/search?q=" in u for u in urls)
    assert "q=%22sudden+death%22+cattle" in urls[2]


def test_scaffolded_rss_entry_is_registered_and_fails_until_recorded(sandbox, tmp_path: Path) -> None:
    feeds, recordings = sandbox
    connectors_dir = feeds.parent
    made = scaffold_connector("new_agency_alerts", "rss", connectors_dir=connectors_dir, recordings=recordings,
                              url="https://agency.example.org/alerts.rss", known=set(registry.connector_classes()))
    registry.connector_classes.cache_clear()
    assert made.declarative and feeds in made.created
    assert "new_agency_alerts" in registry.connector_classes()
    results = {r.check: r.status for r in run_checks("new_agency_alerts", recordings)}
    assert results["report_snapshot"] == "failed"  # until someone records and reviews
    assert results["metadata_complete"] == "failed"  # terms and provenance still say TODO
    assert results["returns_records"] == "passed"
    with pytest.raises(ConfigError, match="already exists"):
        scaffold_connector("new_agency_alerts", "rss", connectors_dir=connectors_dir, recordings=recordings,
                           url="https://x.org", known=set(registry.connector_classes()))


def test_scaffolded_csv_module_passes_the_kit_once_snapshotted(tmp_path: Path) -> None:
    made = scaffold_connector("agency_table", "csv", connectors_dir=tmp_path, recordings=tmp_path / "rec",
                              url="https://agency.example.org/table.csv")
    source = (tmp_path / "agency_table.py").read_text()
    compile(source, "agency_table.py", "exec")
    assert "class AgencyTable(CsvConnector)" in source and not made.declarative
