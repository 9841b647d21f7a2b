"""The storage layer on a local disk and on a real S3 API server (moto's standalone server on 127.0.0.1).

Specification: a local root stays a plain path; an ``s3://`` root is reached through fsspec; writes
are whole-or-nothing and moves leave nothing behind; with ``BIOTRACKER_STORAGE_URL`` on S3 the demo
keeps its raw archive, HTTP validators, digest, exports and mail outbox in the bucket (nothing under
the local home but the SQLite file) and its tables equal the demo's on the local disk.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from upath import UPath

from biotracker import storage
from biotracker.config import load_settings
from biotracker.errors import ConfigError
from tests.s3_server import new_bucket, s3_server


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    with s3_server(tmp_path_factory.mktemp("moto")) as endpoint:
        yield endpoint


@pytest.fixture
def bucket(s3_endpoint) -> tuple[str, dict]:
    return new_bucket(s3_endpoint)


def test_a_local_root_stays_a_plain_path(tmp_path):
    assert storage.location(str(tmp_path)) == tmp_path
    assert storage.location(f"file://{tmp_path}") == tmp_path
    assert isinstance(load_settings({}, home=str(tmp_path)).raw_dir, Path)


def test_an_unknown_protocol_or_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="STORAGE_URL"):
        storage.location("nosuchprotocol://x/y")
    with pytest.raises(ConfigError, match="JSON object"):
        storage.parse_options('["endpoint_url"]')


def test_local_writes_are_atomic_and_moves_leave_nothing_behind(tmp_path):
    target = tmp_path / "a" / "b.bin"
    storage.write_bytes(target, b"payload")
    assert target.read_bytes() == b"payload" and [p.name for p in target.parent.iterdir()] == ["b.bin"]
    moved = storage.move(target, tmp_path / "sent" / "b.bin")
    assert moved.read_bytes() == b"payload" and not target.exists()


def test_s3_paths_write_read_list_and_move(bucket):
    url, options = bucket
    root = storage.location(url, options)
    assert isinstance(root, UPath) and root.protocol == "s3"
    storage.write_text(root / "out" / "mail" / "outbox" / "m.eml", "Subject: x\n\nbody")
    assert [p.name for p in (root / "out" / "mail" / "outbox").glob("*.eml")] == ["m.eml"]
    sent = storage.move(root / "out" / "mail" / "outbox" / "m.eml", root / "out" / "mail" / "sent" / "m.eml")
    assert sent.read_text() == "Subject: x\n\nbody"
    assert not (root / "out" / "mail" / "outbox" / "m.eml").exists()


def test_http_validators_are_kept_in_the_bucket(bucket):
    from biotracker.ingest.run import Validators

    url, options = bucket
    path = storage.location(url, options) / "ingest" / "http-validators.json"
    Validators(path).remember("https://example.org/feed", {"etag": '"v1"', "last-modified": "Mon, 01 Jan 2024"})
    assert Validators(path).get("https://example.org/feed") == ('"v1"', "Mon, 01 Jan 2024")


def test_the_demo_keeps_every_file_in_the_bucket_and_its_tables_match(tmp_path, bucket, demo_store):
    from biotracker.db.engine import make_engine
    from biotracker.pipeline import run_demo
    from biotracker.raw.archive import payload_path
    from tests.test_pipeline import snapshot

    url, options = bucket
    settings = load_settings(
        {"BIOTRACKER_STORAGE_URL": url, "BIOTRACKER_STORAGE_OPTIONS": json.dumps(options)},
        home=str(tmp_path / "home"),
    )
    result = run_demo(settings, clock=lambda: dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))

    assert snapshot(make_engine(settings)) == snapshot(make_engine(demo_store[0]))
    root = storage.location(url, options)
    with make_engine(settings).connect() as conn:
        shas = [r[0] for r in conn.exec_driver_sql("SELECT sha256 FROM raw_payloads")]
    assert shas and all(payload_path(root / "raw", sha).exists() for sha in shas)
    digest = root / "out" / f"digest-{result.digest.day.isoformat()}.html"
    assert digest.read_text() == result.digest.html.read_text()
    assert 'id="alert-' in digest.read_text()
    assert (root / "out" / f"exports-{result.digest.day.isoformat()}" / "export.json").exists()
    local = sorted(p.relative_to(tmp_path / "home").as_posix() for p in (tmp_path / "home").rglob("*") if p.is_file())
    assert all(name.startswith("biotracker.db") for name in local), f"files left on the local disk: {local}"
