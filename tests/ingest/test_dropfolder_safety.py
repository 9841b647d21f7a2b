"""The drop folder reads plain files of its own and nothing else: links, devices, FIFOs and oversized
files are refused without being opened, quarantined once with the reason, and never stop the folder.
A police report id sent again with other content never replaces the first version."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from biotracker.config import BUNDLED_RECORDINGS, Settings
from biotracker.db.engine import open_store
from biotracker.db.tables import quarantine, raw_payloads, reports
from biotracker.ingest.run import fetch_to_raw
from biotracker.normalise.run import normalise_pending
from biotracker.raw.archive import read_payload
from biotracker.schema import UTC, Window

WINDOW = Window.parse("2024-01-01", "2025-01-01")
SECRET = b"report_id,reported_at,agency,title\nSECRET-1,2024-09-01,Shadow,root:$6$saltsalt$hashhash\n"
HEADER = "report_id,reported_at,agency,title,summary,country,admin_area,lat,lon,suspected_agent,tlp\n"


@pytest.fixture
def drop(tmp_path: Path):
    settings = Settings(home=tmp_path / "home", dropfolder_dir=tmp_path / "drop", http_max_bytes=4096)
    folder = tmp_path / "drop" / "police_reports"
    shutil.copytree(BUNDLED_RECORDINGS / "police_reports" / "drop", folder)
    secret = tmp_path / "elsewhere" / "shadow.csv"
    secret.parent.mkdir()
    secret.write_bytes(SECRET)
    return settings, open_store(settings), folder, secret


def _held(engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {r.what: r.reason for r in conn.execute(select(quarantine.c.what, quarantine.c.reason))}


def _stored(settings: Settings, engine) -> bytes:
    with engine.connect() as conn:
        shas = [r.sha256 for r in conn.execute(select(raw_payloads.c.sha256))]
        excerpts = "".join(r.excerpt for r in conn.execute(select(quarantine.c.excerpt)))
    return b"".join(read_payload(settings.raw_dir, s) for s in shas) + excerpts.encode()


def test_links_fifos_and_oversized_files_are_refused_and_the_rest_is_read(drop) -> None:
    settings, engine, folder, secret = drop
    (folder / "a-symlink.csv").symlink_to(secret)
    os.link(secret, folder / "b-hardlink.csv")
    os.mkfifo(folder / "c-fifo.csv")  # opening it for reading would hang a naive reader
    (folder / "d-dir.json").mkdir()
    (folder / "e-huge.csv").write_bytes(HEADER.encode() + b"X," * 3000)
    (folder / "z-dangling.json").symlink_to(folder / "missing.json")
    for _ in range(2):
        summary = fetch_to_raw("police_reports", WINDOW, settings, engine, None)
        assert summary.pages == 2  # the two real files, every run
    held = _held(engine)
    assert sorted(held) == ["file a-symlink.csv", "file b-hardlink.csv", "file c-fifo.csv", "file d-dir.json",
                            "file e-huge.csv", "file z-dangling.json"]  # once each, however many runs
    assert "symbolic link" in held["file a-symlink.csv"] and "hard links" in held["file b-hardlink.csv"]
    assert "not a regular file" in held["file c-fifo.csv"] and "4096-byte cap" in held["file e-huge.csv"]
    assert b"root:" not in _stored(settings, engine) and b"SECRET-1" not in _stored(settings, engine)
    normalise_pending(settings, engine)
    with engine.connect() as conn:
        assert len(conn.execute(select(reports.c.report_id)).all()) == 4


def test_a_second_version_of_a_police_report_is_quarantined_and_the_first_kept(drop) -> None:
    settings, engine, folder, _ = drop
    fetch_to_raw("police_reports", WINDOW, settings, engine, None, lambda: dt.datetime(2024, 9, 4, tzinfo=UTC))
    normalise_pending(settings, engine)
    (folder / "2024-09-05-regional-unit.csv").write_text(
        HEADER + "EX-POL-2024-0001,2024-09-02T14:30:00Z,Other Unit,A different story,,NLD,,,,,RED\n"
        "EX-POL-2024-0002,2024-09-03T08:05:00Z,Example Regional Police (constructed),"
        "Constructed example: envelope with white powder at municipal office,"
        "Constructed example: building evacuated; sample sent to the national laboratory.,"
        "Netherlands,Zwolle,52.51,6.09,Bacillus anthracis (suspected),RED\n"
        "EX-POL-2024-0003,2024-09-05T08:00:00Z,Example Regional Police (constructed),A new report,,NLD,,,,,\n")
    fetch_to_raw("police_reports", WINDOW, settings, engine, None, lambda: dt.datetime(2024, 9, 6, tzinfo=UTC))
    for _ in range(2):  # and again with --reprocess: same outcome
        normalise_pending(settings, engine, reprocess=_ > 0)
        with engine.connect() as conn:
            titles = dict(conn.execute(select(reports.c.source_id, reports.c.title)).all())
        assert titles["EX-POL-2024-0001"] == "Constructed example: break-in at veterinary diagnostic laboratory"
        assert titles["EX-POL-2024-0003"] == "A new report"  # new ids land; an identical resend is no conflict
        held = {w: r for w, r in _held(engine).items() if w.startswith("report")}
        assert list(held) == ["report EX-POL-2024-0001"]
        assert "already received" in held["report EX-POL-2024-0001"] and "first version is kept" in held[
            "report EX-POL-2024-0001"]


def test_two_versions_of_one_id_in_one_file_keep_the_first(drop) -> None:
    from biotracker.ingest.registry import get_connector
    from biotracker.normalise.run import normalise_payload

    body = (HEADER + "D-1,2024-09-01,A,First,,,,,,,\nD-1,2024-09-01,A,Second,,,,,,,\nD-1,2024-09-01,A,First,,,,,,,\n")
    good, bad, _ = normalise_payload(get_connector("police_reports"), body.encode(), "d" * 64)
    assert [r.title for r in good] == ["First"]
    assert [q.what for q in bad] == ["record 1 (3)"] and "appears twice" in bad[0].reason
