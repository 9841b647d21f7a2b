"""A throwaway PostgreSQL cluster for the tests, started from the server binaries on the machine.

PostgreSQL refuses to run as root, so when the tests run as root the server commands run as the
``postgres`` system user (``runuser``). Missing binaries are an error that says how to install
them: the PostgreSQL tests never skip silently.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    pass


def find_bin(name: str) -> str:
    candidates = [shutil.which(name), *sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)]
    for path in candidates:
        if path and os.access(path, os.X_OK):
            return path
    raise PostgresUnavailable(
        f"PostgreSQL server binary {name!r} not found. Install it with `apt-get install -y postgresql` "
        "(or run `make test`, which installs it)."
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Cluster:
    root: Path
    port: int
    user: str = "biotracker"

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres", driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://{self.user}@127.0.0.1:{self.port}/{database}"


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    if shutil.which("runuser") is None:
        raise PostgresUnavailable("running as root but `runuser` is missing; install util-linux or run the tests as a normal user")
    return ["runuser", "-u", "postgres", "--", *cmd]


def start_cluster() -> Cluster:
    initdb, pg_ctl = find_bin("initdb"), find_bin("pg_ctl")
    root = Path(tempfile.mkdtemp(prefix="biotracker-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, user="postgres")
    cluster = Cluster(root=root, port=_free_port())
    subprocess.run(
        _as_server_user([initdb, "-D", str(cluster.data), "-U", cluster.user, "--auth=trust", "-E", "UTF8", "--no-sync"]),
        check=True, capture_output=True,
    )
    options = (f"-p {cluster.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
               "-c synchronous_commit=off -c full_page_writes=off")
    result = subprocess.run(
        _as_server_user([pg_ctl, "-D", str(cluster.data), "-l", str(root / "pg.log"), "-w", "-o", options, "start"]),
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        log = (root / "pg.log").read_text() if (root / "pg.log").exists() else ""
        raise PostgresUnavailable(f"pg_ctl start failed: {result.stderr}\n{log}")
    return cluster


def stop_cluster(cluster: Cluster) -> None:
    subprocess.run(_as_server_user([find_bin("pg_ctl"), "-D", str(cluster.data), "-m", "fast", "-w", "stop"]),
                   capture_output=True)
    shutil.rmtree(cluster.root, ignore_errors=True)


def create_database(cluster: Cluster, name: str) -> str:
    import psycopg

    with psycopg.connect(cluster.url().replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return cluster.url(name)


def clone_database(cluster: Cluster, template: str, name: str) -> str:
    """A new database copied from ``template`` (PostgreSQL's CREATE DATABASE … TEMPLATE): fast fixtures."""
    import psycopg

    with psycopg.connect(cluster.url().replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        # A template must have no other sessions: close what the run that filled it left in its pool.
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                     "AND pid <> pg_backend_pid()", (template,))
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return cluster.url(name)
