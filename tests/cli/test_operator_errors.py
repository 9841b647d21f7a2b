"""Operator mistakes give one line on stderr that says what to do, exit code 2, and no traceback.

Reproduces issue 12 item 10: an unparseable or unreachable database URL, an impossible
``BIOTRACKER_HOME``, a malformed ``feeds.yaml`` entry, ``digest --day 2024-13-45`` and
``--lookback-days -5`` all ended in tracebacks, and ``sqlite:////nonexistent/dir/x.db`` silently
created folders. Most cases run the real ``biotracker`` console script.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from biotracker.cli.main import app
from biotracker.cli.options import iso_day, iso_moment

BIOTRACKER = str(Path(sys.executable).with_name("biotracker"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BIOTRACKER_")}
    environ |= {"BIOTRACKER_HOME": str(tmp_path / "home")} | env
    return subprocess.run([BIOTRACKER, *args], env=environ, capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)


def assert_one_line(result, *fragments: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.mark.parametrize("url, fragments", [
    ("::not a url::", ["cannot use database URL", "BIOTRACKER_DATABASE_URL"]),
    ("oracle+nodriver://u@h/db", ["cannot use database URL", "BIOTRACKER_DATABASE_URL"]),
])
def test_an_unparseable_database_url(tmp_path, url, fragments):
    assert_one_line(run(["alerts", "list"], tmp_path, BIOTRACKER_DATABASE_URL=url), *fragments)


def test_an_unreachable_database_says_so_and_hides_the_password(tmp_path):
    url = f"postgresql+psycopg://analyst:s3cret-pw@127.0.0.1:{_free_port()}/biotracker"
    line = assert_one_line(run(["status"], tmp_path, BIOTRACKER_DATABASE_URL=url),
                           "cannot connect to the database", "BIOTRACKER_DATABASE_URL")
    assert "s3cret-pw" not in line


def test_a_sqlite_url_in_a_missing_folder_is_refused_not_created(tmp_path):
    missing = tmp_path / "nonexistent" / "dir"
    result = run(["alerts", "list"], tmp_path, BIOTRACKER_DATABASE_URL=f"sqlite:///{missing}/x.db")
    assert_one_line(result, str(missing), "does not exist")
    assert not (tmp_path / "nonexistent").exists()


@pytest.mark.parametrize("make_home, fragment", [
    (lambda tmp: (tmp / "a-file").write_text("x") and tmp / "a-file", "is a file"),
    (lambda tmp: (tmp / "a-file").write_text("x") and tmp / "a-file" / "home", "cannot be created"),
    (lambda tmp: Path("/proc/biotracker-home"), "cannot be created"),
])
def test_an_impossible_home(tmp_path, make_home, fragment):
    home = make_home(tmp_path)
    assert_one_line(run(["alerts", "list"], tmp_path, BIOTRACKER_HOME=str(home)), fragment, "BIOTRACKER_HOME")


@pytest.mark.parametrize("args, fragments", [
    (["digest", "--day", "2024-13-45"], ["--day", "YYYY-MM-DD", "biotracker digest --help"]),
    (["digest", "--lookback-days", "-5"], ["--lookback-days", "greater than or equal to 0"]),
    (["score", "--start", "yesterday"], ["--start"]),
    (["score", "--start", "2024-02-01", "--end", "2024-01-01"], ["must be after"]),
    (["mail", "digests", "--day", "17/06/2024"], ["--day"]),
    (["alerts", "list", "--limit", "0"], ["--limit"]),
    (["alerts", "list", "--tier", "urgent"], ["--tier", "critical"]),
    (["export", "json", "--since", "2024-02-30"], ["--since"]),
    (["export", "json", "--clearance", "PURPLE"], ["--clearance"]),
    (["connectors", "record", "who_don", "--days", "-1"], ["--days"]),
    (["nosuchcommand"], ["No such command"]),
    (["digest", "--day", "0001-01-01"], ["--day", "outside the years"]),
    (["score", "--end", "9999-12-31T23:00"], ["--end", "outside the years"]),
    (["digest", "--lookback-days", "99999999999"], ["--lookback-days"]),
])
def test_bad_option_values(tmp_path, args, fragments):
    assert_one_line(run(args, tmp_path), *fragments)


@pytest.mark.parametrize("variable, value", [
    ("BIOTRACKER_DIGEST_LOOKBACK_DAYS", "-5"),
    ("BIOTRACKER_SMTP_PORT", "0"),
    ("BIOTRACKER_HTTP_TIMEOUT_S", "nan"),
    ("BIOTRACKER_SMTP_RETRIES", "many"),
])
def test_bad_numbers_in_the_settings(tmp_path, variable, value):
    assert_one_line(run(["digest"], tmp_path, **{variable: value}), variable)


def test_a_sender_address_that_would_inject_headers(tmp_path):
    assert_one_line(run(["digest"], tmp_path, BIOTRACKER_MAIL_FROM="a@b.example\nBcc: x@evil.example"),
                    "BIOTRACKER_MAIL_FROM", "one plain address")


@pytest.mark.parametrize("content, fragment", [
    (b"home = \"\xff\xfe\"\n", "not valid TOML"),
    (b"home = [", "not valid TOML"),
    (b"homme = \"/tmp\"\n", "unknown keys"),
])
def test_a_broken_config_file(tmp_path, content, fragment):
    config = tmp_path / "biotracker.toml"
    config.write_bytes(content)
    assert_one_line(run(["alerts", "list"], tmp_path, BIOTRACKER_CONFIG=str(config)), fragment, str(config))


@pytest.mark.parametrize("content, fragment", [
    (b"[[subscriber]]\nname = \"\xff\"\n", "not valid TOML"),
    (b"[[subscriber]]\nname = \"a\"\nemail = \"a@b.example, c@d.example\"\n", "email"),
    (b"[[subscriber]]\nname = \"..\"\nclearance = \"PURPLE\"\n", "PURPLE"),
    (b"subscriber = \"desk\"\n", "[[subscriber]]"),
])
def test_a_broken_subscribers_file(tmp_path, content, fragment):
    subscribers = tmp_path / "subscribers.toml"
    subscribers.write_bytes(content)
    result = run(["mail", "digests", "--dry-run"], tmp_path, BIOTRACKER_SUBSCRIBERS_FILE=str(subscribers))
    assert_one_line(result, fragment)


def test_a_malformed_feeds_yaml_entry_names_the_entry_and_the_field(tmp_path, monkeypatch):
    from biotracker.ingest import registry

    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n  - name: broken_feed\n    format: rss\n    kind: public_health\n"
                     "    url: 12\n    tlp: CLEAR\n")
    monkeypatch.setattr(registry, "feeds_file", lambda: feeds)
    registry.connector_classes.cache_clear()
    monkeypatch.setenv("BIOTRACKER_HOME", str(tmp_path / "home"))
    try:
        for args in (["connectors", "list"], ["status"], ["ingest", "--source", "who_don"]):
            result = CliRunner().invoke(app, args)
            assert result.exit_code == 2, (args, result.output)
            assert "Traceback" not in result.output and result.exception is None or isinstance(
                result.exception, SystemExit)
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and "broken_feed" in lines[0] and "feeds.yaml" in lines[0], result.stderr
    finally:
        registry.connector_classes.cache_clear()


def _commands(command, path=()):
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))
    if not getattr(command, "commands", None):
        yield path, command


DATE_OPTIONS = {"day", "as_of", "start", "end", "since", "until"}


def test_every_number_option_is_bounded_and_every_date_option_is_checked():
    """The rule for new commands too: no number without a range, no date without a check."""
    root = typer.main.get_command(app)
    seen = 0
    for path, command in _commands(root):
        for param in command.params:
            annotation = param.type_descriptor.annotation
            if set(typing.get_args(annotation) or (annotation,)) & {int, float}:
                assert param.min is not None, f"biotracker {' '.join(path)} {param.opts[0]}: a number without min="
                seen += 1
            if param.name in DATE_OPTIONS:
                assert param.callback.__qualname__ in ("iso_day", "iso_moment"), (path, param.name)
                result = CliRunner().invoke(app, [*path, param.opts[0], "2024-13-45"])
                assert result.exit_code == 2 and "Traceback" not in result.output, (path, param.name, result.output)
                assert len(result.stderr.strip().splitlines()) == 1, (path, param.name, result.stderr)
                seen += 1
    assert seen >= 8


def test_the_date_checks_accept_what_they_should():
    assert iso_day("2024-06-17") == "2024-06-17" and iso_moment("2024-06-17T06:00") == "2024-06-17T06:00"
    for bad in ("2024-13-45", "yesterday", "17/06/2024", "0001-01-01", "9999-12-31"):
        with pytest.raises(typer.BadParameter):
            iso_day(bad)


@pytest.mark.postgres
def test_a_database_user_without_the_right_to_create_tables(tmp_path, postgres_url):
    """PostgreSQL 15+ lets only a schema's owner create tables in ``public``: a reader account is refused."""
    import uuid

    import psycopg

    reader = f"reader_{uuid.uuid4().hex[:8]}"
    admin = postgres_url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {reader} LOGIN")
        conn.execute(f"REVOKE CREATE ON SCHEMA public FROM PUBLIC, {reader}")
    url = postgres_url.replace("://biotracker@", f"://{reader}:secret-pw@")
    line = assert_one_line(run(["alerts", "list"], tmp_path, BIOTRACKER_DATABASE_URL=url),
                           "cannot bring the database", "may create and alter tables")
    assert "secret-pw" not in line
