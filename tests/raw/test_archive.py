"""Raw payloads are stored once, by content, before anything parses them."""

import datetime as dt
import hashlib

import pytest
from sqlalchemy import func, select

from biotracker.config import load_settings
from biotracker.db.engine import open_store
from biotracker.db.tables import raw_payloads
from biotracker.raw.archive import RawPayloadMissing, payload_path, read_payload, store_payload

NOW = dt.datetime(2024, 10, 18, 10, tzinfo=dt.timezone.utc)


def test_identical_payloads_are_stored_once(tmp_path):
    settings = load_settings({}, home=str(tmp_path))
    engine = open_store(settings)
    body = b'{"value": []}'
    with engine.begin() as conn:
        first, new1 = store_payload(conn, settings.raw_dir, source="s", url="https://x/1", body=body, http_status=200, fetched_at=NOW)
        again, new2 = store_payload(conn, settings.raw_dir, source="s", url="https://x/1", body=body, http_status=200,
                                    fetched_at=NOW + dt.timedelta(hours=1))
    assert (new1, new2) == (True, False)
    assert first.sha256 == again.sha256 == hashlib.sha256(body).hexdigest()
    assert payload_path(settings.raw_dir, first.sha256).read_bytes() == body
    assert read_payload(settings.raw_dir, first.sha256) == body
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(raw_payloads)).scalar_one() == 1
        assert conn.execute(select(raw_payloads.c.fetched_at)).scalar_one().replace(tzinfo=dt.timezone.utc) == NOW


def test_missing_bytes_say_how_to_recover(tmp_path):
    settings = load_settings({}, home=str(tmp_path))
    engine = open_store(settings)
    with engine.begin() as conn:
        record, _ = store_payload(conn, settings.raw_dir, source="s", url="u", body=b"abc", http_status=200, fetched_at=NOW)
    payload_path(settings.raw_dir, record.sha256).unlink()
    with pytest.raises(RawPayloadMissing, match="re-fetch"):
        read_payload(settings.raw_dir, record.sha256)
