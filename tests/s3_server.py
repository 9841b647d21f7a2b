"""moto's standalone S3 API server in its own process on 127.0.0.1, and fresh buckets on it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import httpx

from tests.dags.airflow_stack import free_port

KEYS = {"key": "testing", "secret": "testing"}


@contextmanager
def s3_server(log_dir: Path) -> Iterator[str]:
    """Start ``moto_server``; yield its endpoint URL; stop it."""
    port = free_port()
    log = (log_dir / "moto.log").open("wb")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": KEYS["key"], "AWS_SECRET_ACCESS_KEY": KEYS["secret"]}
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
                    raise AssertionError(f"moto_server exited with {proc.returncode}") from None
                time.sleep(0.2)
        else:
            raise AssertionError("moto_server did not start in 30 s")
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def new_bucket(endpoint: str) -> tuple[str, dict]:
    """A fresh bucket: (storage URL under it, fsspec options to reach it)."""
    name = f"bt-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=KEYS["key"],
                 aws_secret_access_key=KEYS["secret"], region_name="us-east-1").create_bucket(Bucket=name)
    options = {"endpoint_url": endpoint, **KEYS, "client_kwargs": {"region_name": "us-east-1"}}
    return f"s3://{name}/biotracker", options
