"""The command-line contract, run as a user would: orgs, users (password on stdin), tokens (the token
alone on stdout), ``biotracker serve --host --port`` answering health and serving the API, and
``biotracker audit``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.server.conftest import free_port

BIOTRACKER = Path(sys.executable).parent / "biotracker"


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIOTRACKER), *args], env=env, input=stdin, capture_output=True, text=True, timeout=300)


def test_admin_commands_then_serve_then_audit(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BIOTRACKER_")} | {
        "BIOTRACKER_HOME": str(tmp_path / "var"),
        "BIOTRACKER_SERVER_SECRET_KEY": "cli-test-secret",
    }
    assert run(env, "orgs", "add", "NCB-NL").returncode == 0
    assert run(env, "orgs", "add", "NCB-NL").returncode == 2  # duplicate, with a message
    assert run(env, "orgs", "list").stdout.split() == ["NCB-NL"]
    added = run(env, "users", "add", "alice", "--org", "NCB-NL", "--role", "contributor", "--password-stdin",
                stdin="correct horse battery staple\n")
    assert added.returncode == 0, added.stderr
    assert run(env, "users", "add", "bob", "--org", "NOWHERE", "--role", "analyst", "--password-stdin",
               stdin="correct horse battery staple\n").returncode == 2
    assert run(env, "users", "add", "bob", "--org", "NCB-NL", "--role", "wizard", "--password-stdin",
               stdin="correct horse battery staple\n").returncode == 2
    assert run(env, "users", "list").stdout.split() == ["alice", "NCB-NL", "contributor", "active"]
    issued = run(env, "tokens", "issue", "alice", "--scope", "write")
    token = issued.stdout
    assert issued.returncode == 0 and token.endswith("\n") and len(token.split()) == 1
    token = token.strip()
    read_token = run(env, "tokens", "issue", "alice").stdout.strip()

    port = free_port()
    server = subprocess.Popen([str(BIOTRACKER), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/api/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "biotracker serve did not come up"
            time.sleep(0.3)
        assert httpx.get(f"{url}/api/v1/alerts").status_code == 401
        auth = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{url}/api/v1/alerts", headers=auth).json() == {"items": [], "next": None}
        posted = httpx.post(f"{url}/api/v1/reports", headers=auth, timeout=60, json={
            "title": "Anthrax in cattle", "text": "", "country_iso3": "NLD", "reported_at": "2026-11-28T10:00:00Z",
            "tlp": "AMBER+STRICT", "share_with": []})
        assert posted.status_code == 201, posted.text
        read_only = {"Authorization": f"Bearer {read_token}"}
        assert httpx.post(f"{url}/api/v1/reports", headers=read_only, json={}).status_code == 403
        token_id = run(env, "tokens", "list").stdout.split()[0]
        assert run(env, "tokens", "revoke", token_id).returncode == 0
        assert httpx.get(f"{url}/api/v1/alerts", headers=auth).status_code == 401
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert '"path": "/api/v1/reports", "status": 201' in output, "structured access log lines"
    assert token not in output, "the token never reaches the log"

    audit = run(env, "audit", "--user", "alice")
    assert audit.returncode == 0
    lines = audit.stdout.splitlines()
    assert any("\tcontribute\tok\tcontributions:" in line for line in lines)
    assert all("\talice\t" in line for line in lines)
    assert run(env, "audit", "--since", "2999-01-01").stdout == ""
    assert run(env, "audit", "--since", "not a date").returncode == 2
    without_key = {k: v for k, v in env.items() if k != "BIOTRACKER_SERVER_SECRET_KEY"}
    refused = run(without_key, "serve", "--port", str(free_port()), "--workers", "2")
    assert refused.returncode == 2 and "BIOTRACKER_SERVER_SECRET_KEY" in refused.stderr
    assert any("tokens revoke" in line for line in run(env, "audit").stdout.splitlines())


def test_demo_users_are_created_once_with_passwords_printed_once_that_work(tmp_path):
    from biotracker.config import load_settings
    from biotracker.db.engine import open_store
    from biotracker.server.accounts import authenticate

    env = {k: v for k, v in os.environ.items() if not k.startswith("BIOTRACKER_")} | {
        "BIOTRACKER_HOME": str(tmp_path / "var")
    }
    first = run(env, "users", "demo")
    assert first.returncode == 0, first.stderr
    rows = [line.split() for line in first.stdout.splitlines()[1:]]
    assert {r[0] for r in rows} == {"interpol.admin", "nl.analyst", "nl.contributor", "fr.analyst", "who.analyst"}
    again = run(env, "users", "demo")
    assert "password unchanged" in again.stdout
    assert not any(r[3] in again.stdout for r in rows), "a password is printed only when it is made"
    engine = open_store(load_settings({}, home=str(tmp_path / "var")))
    with engine.connect() as conn:
        for username, org, role, password in rows:
            principal = authenticate(conn, username, password)
            assert principal is not None and (principal.org, principal.role.value) == (org, role)
    engine.dispose()
