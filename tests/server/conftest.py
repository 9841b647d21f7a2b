"""A real server for the tests: uvicorn on a free 127.0.0.1 port, over SQLite or PostgreSQL, with a
small community of organisations and users (and a token for each user)."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine

from biotracker.access import Role
from biotracker.config import Settings, load_settings
from biotracker.db.engine import open_store
from biotracker.server import accounts
from biotracker.server.accounts import Scope
from biotracker.server.app import create_app

PASSWORD = "a long enough test password"
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
#: username -> (organisation, role)
PEOPLE = {
    "nl_contrib": ("NCB-NL", Role.CONTRIBUTOR),
    "nl_analyst": ("NCB-NL", Role.ANALYST),
    "fr_contrib": ("NCB-FR", Role.CONTRIBUTOR),
    "fr_analyst": ("NCB-FR", Role.ANALYST),
    "ip_admin": ("INTERPOL", Role.ADMIN),
}


@pytest.fixture(autouse=True)
def quick_password_hashing(monkeypatch):
    """Argon2id at its smallest cost: the code path is the same, the machine is shared (the CLI tests
    run the production parameters)."""
    from argon2 import PasswordHasher

    monkeypatch.setattr(accounts, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    settings: Settings
    engine: Engine
    tokens: dict[str, str] = field(default_factory=dict)  # username -> write-scope token
    read_tokens: dict[str, str] = field(default_factory=dict)

    def client(self, user: str | None = None, *, read_only: bool = False) -> httpx.Client:
        headers = {}
        if user:
            headers["Authorization"] = f"Bearer {(self.read_tokens if read_only else self.tokens)[user]}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


def populate(engine: Engine) -> tuple[dict[str, str], dict[str, str]]:
    write, read = {}, {}
    with engine.begin() as conn:
        for org in sorted({org for org, _ in PEOPLE.values()}):
            accounts.add_org(conn, org, NOW)
        for name, (org, role) in PEOPLE.items():
            accounts.add_user(conn, name, org, role, PASSWORD, NOW)
            write[name] = accounts.issue_token(conn, name, Scope.WRITE, NOW, dt.timedelta(days=3650))[1]
            read[name] = accounts.issue_token(conn, name, Scope.READ, NOW, dt.timedelta(days=3650))[1]
    return write, read


def server_settings(home: Path, database_url: str | None = None, **extra: object) -> Settings:
    overrides: dict[str, object] = {
        "home": str(home),
        "server_secret_key": "test-secret-key-not-for-production",
        "login_max_failures": 3,
        **extra,
    }
    if database_url:
        overrides["database_url"] = database_url
    return load_settings({}, **overrides)


@contextmanager
def serving(settings: Settings, people: bool = True) -> Iterator[LiveServer]:
    """A running LiveServer over ``settings`` (with the PEOPLE community unless ``people`` is False),
    stopped on leaving the block: for fixtures of any scope."""
    engine = open_store(settings)
    write, read = populate(engine) if people else ({}, {})
    port = free_port()
    config = uvicorn.Config(create_app(settings, engine), host="127.0.0.1", port=port, log_level="warning",
                            access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        yield LiveServer(f"http://127.0.0.1:{port}", settings, engine, write, read)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        engine.dispose()


@pytest.fixture
def start_server() -> Iterator:
    """Call with settings; returns a running LiveServer. Every server started is stopped at teardown."""
    with ExitStack() as stack:
        yield lambda settings, people=True: stack.enter_context(serving(settings, people))


@pytest.fixture
def live(start_server, database_url, tmp_path) -> LiveServer:
    """A server on an empty store with the PEOPLE community, once on SQLite and once on PostgreSQL."""
    return start_server(server_settings(tmp_path, database_url))
