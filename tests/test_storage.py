"""The storage layer on a local disk and on a real S3 API server (moto's standalone server on 127.0.0.1).

Specification: a local root stays a plain path; an ``s3://`` root is reached through fsspec; writes
are whole-or-nothing and moves leave nothing behind; with ``BIOTRACKER_STORAGE_URL`` on S3 the demo
keeps its raw archive, HTTP validators, digest, exports and mail outbox in the bucket (nothing under
the local home but the SQLite file) and its tables equal the demo's on the local disk.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import httpx
import pytest
from upath import UPath

from biotracker import storage
from biotracker.config import load_settings
from biotracker.errors import ConfigError
from tests.dags.airflow_stack import free_port


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    """moto's S3 API server in its own process on 127.0.0.1; yields the endpoint URL."""
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                httpx.get(endpoint, timeout=1)
                break
            except httpx.HTTPError:
                if proc.poll() is not None:
                    pytest.fail(f"moto_server exited with {proc.returncode}")
                time.sleep(0.2)
        else:
            pytest.fail("moto_server did not start in 30 s")
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def bucket(s3_server) -> tuple[str, dict]:
    """A fresh bucket: (storage URL, fsspec options)."""
    options = {"endpoint_url": s3_server, "key": "testing", "secret": "testing",
               "client_kwargs": {"region_name": "us-east-1"}}
    name = f"bt-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_server, aws_access_key_id="testing", aws_secret_access_key="testing",
                 region_name="us-east-1").create_bucket(Bucket=name)
    return f"s3://{name}/biotracker", options


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
