"""Poison-pill isolation: whatever one record or one payload throws (not only the expected error
types), that record is quarantined with its stage, reason and locator, its payload is marked done,
and every other record and payload lands, on SQLite and on PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from biotracker.config import BUNDLED_RECORDINGS, load_settings
from biotracker.db.engine import open_store
from biotracker.db.tables import quarantine, raw_payloads, reports
from biotracker.ingest.registry import get_connector
from biotracker.normalise.run import normalise_pending, normalise_payload, store_outcome
from biotracker.raw.archive import store_payload
from biotracker.schema import UTC, QuarantineItem, Report

FETCHED = dt.datetime(2026, 1, 1, tzinfo=UTC)
WHO = json.loads((BUNDLED_RECORDINGS / "who_don" / "page1.json").read_bytes())
EMPRES = (BUNDLED_RECORDINGS / "empres_i" / "empres-i-outbreaks.csv").read_text(encoding="utf-8")
ECDC = (BUNDLED_RECORDINGS / "ecdc" / "feed.xml").read_bytes()

#: Item changes that crashed the stage before (issue 12, item 1) or slipped past it, with the reason.
WHO_POISON = {
    "2024-DON540": ({"PublicationDate": "0001-01-01T00:00:00+05:00"}, "PublicationDate"),  # OverflowError
    "2024-DON539": ({"PublicationDate": "9999-12-31T23:59:59-05:00"}, "PublicationDate"),  # OverflowError
    "2024-DON538": ({"Title": 12345}, "expected text, got a int"),  # AttributeError
    "2024-DON537": ({"Title": "Marburg \ud800 virus"}, "unicode string"),  # UnicodeEncodeError
    "2024-DON536": ({"Title": "Marburg\x00virus"}, "NUL"),  # PostgreSQL refuses NUL in text
    "2024-DON532": ({"PublicationDate": "yesterday"}, "is not a date"),  # silently None before
    "2024-DON534": ({"PublicationDate": "2099-06-01T00:00:00Z"}, "a date in the future"),
    "2024-DON533": ({"Summary": ["a", "list"]}, "expected text, got a list"),
}
EMPRES_POISON = {"sumCases": ["inf", "1e19", "3000000000", "-500", "nan"]}


def _who_page() -> bytes:
    page = json.loads(json.dumps(WHO))
    for item in page["value"]:
        change, _ = WHO_POISON.get(item["DonId"], ({}, ""))
        item.update(change)
    return json.dumps(page).encode()


def _empres_table() -> bytes:
    rows = list(csv.DictReader(io.StringIO(EMPRES)))
    for row, value in zip(rows, EMPRES_POISON["sumCases"], strict=False):
        row["sumCases"] = value
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _archive(engine, settings, source: str, body: bytes, minutes: int) -> str:
    with engine.begin() as conn:
        record, _ = store_payload(conn, settings.raw_dir, source=source, url=f"https://x/{source}/{minutes}",
                                  body=body, http_status=200, fetched_at=FETCHED + dt.timedelta(minutes=minutes))
    return record.sha256


def test_poisoned_records_and_payloads_never_stop_the_run(database_url: str, tmp_path: Path) -> None:
    settings = load_settings({}, home=str(tmp_path), database_url=database_url)
    engine = open_store(settings)
    nested = b'{"value": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}"  # RecursionError in json.loads
    shas = {
        "nested": _archive(engine, settings, "who_don", nested, 0),
        "who": _archive(engine, settings, "who_don", _who_page(), 1),
        "empres": _archive(engine, settings, "empres_i", _empres_table(), 2),
        "ecdc": _archive(engine, settings, "ecdc", ECDC, 3),  # a clean payload behind the poisoned ones
    }
    summary = normalise_pending(settings, engine)
    assert summary.payloads == 4
    with engine.connect() as conn:
        pending = conn.execute(select(raw_payloads.c.sha256).where(raw_payloads.c.normalised_version.is_(None)))
        assert pending.all() == []
        ids = {r.report_id for r in conn.execute(select(reports.c.report_id))}
        held = [dict(r) for r in conn.execute(select(quarantine)).mappings()]
    assert sum(i.startswith("ecdc:") for i in ids) == 10
    assert sum(i.startswith("who_don:") for i in ids) == 50 - len(WHO_POISON)
    assert not ids & {f"who_don:{d}" for d in WHO_POISON}
    assert sum(i.startswith("empres_i:") for i in ids) == 10 - len(EMPRES_POISON["sumCases"])
    by_payload = {name: [q for q in held if q["raw_sha256"] == sha] for name, sha in shas.items()}
    assert [(q["what"], q["stage"]) for q in by_payload["nested"]] == [("payload", "parse")]
    assert "nested too deeply" in by_payload["nested"][0]["reason"]
    reasons = " | ".join(q["reason"] for q in by_payload["who"])
    assert len(by_payload["who"]) == len(WHO_POISON)
    for _, words in WHO_POISON.values():
        assert words in reasons
    empres_reasons = " | ".join(q["reason"] for q in by_payload["empres"])
    for words in ("not a finite number", "is over 1,000,000,000", "is negative (-500)"):
        assert words in empres_reasons
    assert all(q["what"].startswith("record ") for q in by_payload["who"] + by_payload["empres"])
    again = normalise_pending(settings, engine)
    assert again.payloads == 0  # nothing stays pending, nothing is tried again


def test_a_row_the_database_refuses_is_quarantined_and_the_others_are_stored(database_url: str, tmp_path: Path) -> None:
    settings = load_settings({}, home=str(tmp_path), database_url=database_url)
    engine = open_store(settings)
    connector = get_connector("ecdc")
    sha = _archive(engine, settings, "ecdc", ECDC, 0)
    good, bad, _ = normalise_payload(connector, ECDC, sha, FETCHED)
    # Values the schema refuses, forced past it (model_construct) to prove the store isolates rows too.
    poisoned = [good[0].model_copy(update={"source_id": "forced-1", "evidence": {"x": {1, 2}}})]
    if engine.dialect.name == "postgresql":
        poisoned += [good[1].model_copy(update={"source_id": "forced-2", "cases": 3_000_000_000}),
                     good[2].model_copy(update={"source_id": "forced-3", "title": "NUL\x00title"})]
    stored, held = store_outcome(engine, connector, sha, good + poisoned, bad)
    assert [r.report_id for r in stored] == [r.report_id for r in good]
    assert sorted(q.what for q in held) == sorted(f"report {r.source_id}" for r in poisoned)
    assert all(q.stage == "store" and "the database refused the report" in q.reason for q in held)
    with engine.connect() as conn:
        assert len(conn.execute(select(reports.c.report_id)).all()) == len(good)
        assert len(conn.execute(select(quarantine.c.what)).all()) == len(poisoned)
        assert conn.execute(select(raw_payloads.c.normalised_version)).scalar_one() == connector.parser_version


def test_quarantine_text_is_always_storable(database_url: str, tmp_path: Path) -> None:
    settings = load_settings({}, home=str(tmp_path), database_url=database_url)
    engine = open_store(settings)
    from biotracker.raw.quarantine import quarantine_item

    item = QuarantineItem(source="who_don", stage="parse", what="item \x00 1", reason="bad \ud800 text\x00",
                          excerpt="NUL\x00 and \udce4")
    with engine.begin() as conn:
        quarantine_item(conn, item)
    with engine.connect() as conn:
        row = conn.execute(select(quarantine)).mappings().one()
    assert "\x00" not in row["what"] + row["reason"] + row["excerpt"]


def test_a_records_hook_that_raises_anything_quarantines_the_payload_and_keeps_earlier_items() -> None:
    connector = get_connector("ecdc")

    class Exploding(type(connector)):
        def records(self, body):
            items = super().records(body)
            yield next(items)
            yield next(items)
            raise MemoryError("simulated: a parser blew up half-way")

    good, bad, _ = normalise_payload(Exploding(), ECDC, "e" * 64, FETCHED)
    assert len(good) == 2
    assert [q.what for q in bad] == ["payload"]
    assert bad[0].reason.startswith("reading stopped after 2 item(s), which were kept: MemoryError")


@pytest.mark.parametrize("body", [b"", b"\x00" * 64, b"\xff\xfe\x00<", b"[]", b"null", b"{}", b"1e999999"])
def test_payloads_that_are_no_document_at_all_are_quarantined_for_every_connector(body: bytes) -> None:
    from biotracker.ingest.registry import connector_classes

    for name, cls in connector_classes().items():
        good, bad, skipped = normalise_payload(cls(), body, "f" * 64, FETCHED)
        assert good == [], name
        assert all(q.reason for q in bad), name


def test_a_payload_whose_bytes_are_missing_is_quarantined_and_never_stays_pending(tmp_path: Path) -> None:
    settings = load_settings({}, home=str(tmp_path))
    engine = open_store(settings)
    gone = _archive(engine, settings, "ecdc", ECDC, 0)
    _archive(engine, settings, "who_don", _who_page(), 1)
    from biotracker.raw.archive import payload_path

    payload_path(settings.raw_dir, gone).unlink()
    summary = normalise_pending(settings, engine)
    assert summary.payloads == 1 and normalise_pending(settings, engine).payloads == 0
    with engine.connect() as conn:
        held = conn.execute(select(quarantine.c.reason).where(quarantine.c.raw_sha256 == gone)).scalar_one()
    assert "is missing" in held and "--reprocess" in held
