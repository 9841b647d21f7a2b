"""Law-enforcement drop-folder intake: files archived like HTTP payloads, TLP:RED by default,
strict validation with quarantine, a file read twice stored once."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from biotracker.config import BUNDLED_RECORDINGS, Settings
from biotracker.db.engine import open_store
from biotracker.db.tables import raw_payloads, reports
from biotracker.errors import FatalFetchError
from biotracker.ingest.registry import get_connector
from biotracker.ingest.run import fetch_to_raw
from biotracker.normalise.run import normalise_pending, normalise_payload
from biotracker.schema import Tlp, Window

WINDOW = Window.parse("2024-01-01", "2025-01-01")
HEADER = "report_id,reported_at,agency,title,summary,country,admin_area,lat,lon,suspected_agent,tlp\n"


@pytest.fixture
def drop(tmp_path: Path):
    settings = Settings(home=tmp_path / "home", dropfolder_dir=tmp_path / "drop")
    folder = tmp_path / "drop" / "police_reports"
    shutil.copytree(BUNDLED_RECORDINGS / "police_reports" / "drop", folder)
    return settings, open_store(settings), folder


def test_dropped_files_are_archived_once_and_marked_red(drop) -> None:
    settings, engine, folder = drop
    first = fetch_to_raw("police_reports", WINDOW, settings, engine, None)
    again = fetch_to_raw("police_reports", WINDOW, settings, engine, None)
    assert (first.pages, first.new_payloads) == (2, 2)
    assert (again.pages, again.new_payloads) == (2, 0)
    with engine.connect() as conn:
        urls = sorted(r.url for r in conn.execute(select(raw_payloads.c.url)))
    assert all(u.startswith("file://") for u in urls)
    normalise_pending(settings, engine, ["police_reports"])
    with engine.connect() as conn:
        marks = {r.source_id: r.tlp for r in conn.execute(select(reports.c.source_id, reports.c.tlp))}
    assert marks == {"EX-POL-2024-0001": "RED", "EX-POL-2024-0002": "RED", "EX-BORDER-2024-0107": "AMBER",
                     "EX-BORDER-2024-0108": "RED"}


def test_missing_folder_is_a_fatal_error_that_says_what_to_do(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, dropfolder_dir=tmp_path / "nowhere")
    with pytest.raises(FatalFetchError, match="BIOTRACKER_DROPFOLDER_DIR"):
        fetch_to_raw("police_reports", WINDOW, settings, open_store(settings), None)


def quarantine_of(rows: str) -> tuple[list, list]:
    good, bad, _ = normalise_payload(get_connector("police_reports"), (HEADER + rows).encode(), "b" * 64)
    return good, bad


@pytest.mark.parametrize(("row", "reason"), [
    ("X-1,2024-09-01,,Title,,,,,,,\n", "lacks required field(s) ['agency']"),
    ("X-2,2024-09-01,Agency,Title,,,,,,,CLEAR\n", "may not be marked wider than TLP:AMBER"),
    ("X-3,2024-09-01,Agency,Title,,,,,,,PURPLE\n", "not a TLP 2.0 marking"),
    ("X-4,2024-09-01,Agency,Title,,,,123,5,,\n", "lat 123.0 is outside"),
    ("X-5,someday,Agency,Title,,,,,,,\n", "reported_at 'someday' is not a date"),
    ("X 6,2024-09-01,Agency,Title,,,,,,,\n", "report_id must be"),
    ("X-7,2024-09-01,Agency,Title,,Atlantis,,,,,\n", "neither an ISO 3166 alpha-3 code nor a known country"),
    ("X-8,2024-09-01,Agency,<script>x()</script>,,,,,,,\n", "title is empty once markup is removed"),
])
def test_invalid_reports_are_quarantined_with_the_reason_and_valid_ones_land(row: str, reason: str) -> None:
    good_row = "OK-1,2024-09-01T10:00:00Z,Agency,A valid report,,NLD,,,,,\n"
    good, bad = quarantine_of(good_row + row)
    assert [r.source_id for r in good] == ["OK-1"]
    assert good[0].tlp is Tlp.RED
    assert len(bad) == 1 and reason in bad[0].reason


def test_json_files_are_read_too_and_non_objects_are_quarantined(tmp_path: Path) -> None:
    doc = {"reports": [{"report_id": "J-1", "reported_at": "2024-09-01", "agency": "A", "title": "T"}, "oops"]}
    good, bad, _ = normalise_payload(get_connector("police_reports"), json.dumps(doc).encode(), "c" * 64)
    assert [r.source_id for r in good] == ["J-1"]
    assert len(bad) == 1 and "not an object" in bad[0].reason


def test_an_unconfigured_default_folder_means_nothing_was_dropped(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    summary = fetch_to_raw("police_reports", WINDOW, settings, open_store(settings), None)
    assert (summary.pages, summary.new_payloads) == (0, 0)


def test_replay_mode_reads_the_recorded_drop_folder(tmp_path: Path) -> None:
    settings = replace(Settings(home=tmp_path), replay_dir=BUNDLED_RECORDINGS)
    summary = fetch_to_raw("police_reports", WINDOW, settings, open_store(settings), None)
    assert summary.pages == 2
