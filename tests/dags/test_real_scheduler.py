"""The DAGs under a real Airflow 3 scheduler (api-server, scheduler, dag-processor, LocalExecutor) on
PostgreSQL, triggered through the REST API on the recorded feeds.

Specification: one trigger of ``ingest_feeds`` runs each downstream DAG exactly once (one asset event
per completed run) and ends in ``publish_digest``; the tables equal the demo's (on PostgreSQL too);
the digest lists the demo's alerts; each subscriber with an address gets exactly one email at the
local SMTP server; a second trigger changes no row and sends no email.
"""

from __future__ import annotations

import re
import time
import uuid

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine

from biotracker.config import BUNDLED_RECORDINGS, REPO_DIR, load_settings
from biotracker.outputs.audience import load_subscribers
from tests import pg_cluster
from tests.dags.airflow_stack import airflow_stack, free_port
from tests.test_pipeline import snapshot

# A real deployment on a shared machine: allow more than the suite's default 600 s per test.
pytestmark = [pytest.mark.airflow, pytest.mark.postgres, pytest.mark.timeout(1800)]
DOWNSTREAM = ["normalise_reports", "score_signals", "publish_digest"]
DAG_IDS = {"ingest_feeds", *DOWNSTREAM}
EVERYTHING = {"start": "2000-01-01", "end": "2030-01-01"}
SUBSCRIBERS = REPO_DIR / "config" / "subscribers.example.toml"


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook name)
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def chain_env(biotracker_url: str, home, smtp_port: int) -> dict[str, str]:
    return {
        "BIOTRACKER_HOME": str(home),
        "BIOTRACKER_DATABASE_URL": biotracker_url,
        "BIOTRACKER_REPLAY_DIR": str(BUNDLED_RECORDINGS),
        "BIOTRACKER_SMTP_HOST": "127.0.0.1",
        "BIOTRACKER_SMTP_PORT": str(smtp_port),
        "BIOTRACKER_SMTP_RETRIES": "0",
        "BIOTRACKER_SUBSCRIBERS_FILE": str(SUBSCRIBERS),
        "BIOTRACKER_DIGEST_LOOKBACK_DAYS": "28",  # as the demo
    }


def run_chain_twice(stack, mailbox: Mailbox, engine) -> dict:
    """Trigger twice; return what each trigger left behind, and the wall times."""
    began = time.monotonic()
    stack.wait_until_ready(DAG_IDS)
    ready = time.monotonic()
    stack.trigger("ingest_feeds", EVERYTHING)
    stack.wait_for_runs("ingest_feeds", 1)
    stack.wait_for_runs("publish_digest", 1)
    first = time.monotonic()
    after_first = {"tables": snapshot(engine), "mail": list(mailbox.messages),
                   "runs": {d: len(stack.runs(d)) for d in DOWNSTREAM}}
    stack.trigger("ingest_feeds", EVERYTHING)
    stack.wait_for_runs("ingest_feeds", 2)
    stack.wait_for_runs("publish_digest", 2)
    second = time.monotonic()
    print(
        f"\nreal scheduler: ready in {ready - began:.0f} s, first chain {first - ready:.0f} s, "
        f"second chain {second - first:.0f} s"
    )
    return {"first": after_first, "tables": snapshot(engine), "mail": list(mailbox.messages),
            "runs": {d: len(stack.runs(d)) for d in DOWNSTREAM}}


def test_ingest_trigger_runs_the_chain_once_to_the_demos_tables_and_mails_each_subscriber_once(
    tmp_path, postgres_cluster, postgres_demo_template
):
    metadata_url = pg_cluster.create_database(postgres_cluster, f"airflow_{uuid.uuid4().hex[:8]}")
    biotracker_url = pg_cluster.create_database(postgres_cluster, f"bt_{uuid.uuid4().hex[:12]}")
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    home = tmp_path / "airflow"
    home.mkdir()
    env = chain_env(biotracker_url, tmp_path / "biotracker", smtp.port)
    settings = load_settings(env)
    from biotracker.db.engine import make_engine, migrate

    migrate(make_engine(settings))  # the init step (`biotracker db migrate`): once, before any task
    engine = make_engine(settings)
    try:
        with airflow_stack(home, metadata_url.replace("+psycopg", "+psycopg2"), env) as stack:
            seen = run_chain_twice(stack, mailbox, engine)
    finally:
        smtp.stop()

    demo = snapshot(create_engine(postgres_cluster.url(postgres_demo_template[0])))
    first = seen["first"]
    assert first["runs"] == {d: 1 for d in DOWNSTREAM}, "each downstream DAG runs once per ingest run"
    differing = [name for name in demo if first["tables"][name] != demo[name]]
    assert differing == [], f"tables differ from the demo's: {differing}"

    day = max(p.stem.removeprefix("digest-") for p in settings.out_dir.glob("digest-*.html"))
    alert_ids = re.compile(r'id="(alert-[0-9a-f]+)"')
    assert len(alert_ids.findall((settings.out_dir / f"digest-{day}.html").read_text())) > 0

    addressed = sorted(s.email for s in load_subscribers(SUBSCRIBERS).subscribers if s.email)
    assert sorted(r for rcpts, _ in first["mail"] for r in rcpts) == addressed, "one email per subscriber"
    assert all(f"digest-{day}".encode() in body or day.encode() in body for _, body in first["mail"])

    assert seen["runs"] == {d: 2 for d in DOWNSTREAM}
    assert seen["tables"] == first["tables"], "a second trigger changes no row"
    assert seen["mail"] == first["mail"], "a second trigger sends no email"
