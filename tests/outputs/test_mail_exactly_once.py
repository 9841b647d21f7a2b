"""Exactly-once email against real, misbehaving SMTP servers (aiosmtpd on 127.0.0.1).

Reproduces issue 12 item 8: a server that accepted DATA and then answered QUIT with 421 got the same
digest 4 times (the QUIT error was taken for a failed send and retried), and a process killed after
DATA was accepted sent the digest again on its next run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from biotracker.errors import DeliveryInDoubtError
from biotracker.outputs.audience import Audience, SubscriberBook
from biotracker.outputs.digest import render_digest
from biotracker.outputs.mail import compose_digest_email, send_outbox
from biotracker.outputs.outbox import MessageState, Outbox
from biotracker.outputs.publish import publish_day
from biotracker.outputs.records import load_output_data
from biotracker.schema import Tlp
from tests.outputs.sample_store import DAY, KINDS
from tests.outputs.test_mail import _free_port

#: The real console script of this environment.
BIOTRACKER = str(Path(sys.executable).with_name("biotracker"))
SENT_AT = dt.datetime(2024, 6, 17, 6, 0, tzinfo=dt.timezone.utc)
DESK = Audience("desk", Tlp.AMBER, "public_health", email="desk@health.example")


class Misbehaving:
    """Keeps every message it accepts; then misbehaves as told."""

    def __init__(self, *, quit_reply: str | None = None, close_after_data: bool = False,
                 drop_before_reply: bool = False, kill_pid: int | None = None, data_reply: str = "250 OK") -> None:
        self.data_reply = data_reply
        self.messages: list[bytes] = []
        self.quit_reply = quit_reply
        self.close_after_data = close_after_data
        self.drop_before_reply = drop_before_reply
        self.kill_pid = kill_pid

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook)
        self.messages.append(envelope.original_content or envelope.content)
        if self.kill_pid is not None:  # the client dies after the server took the message
            os.kill(self.kill_pid, signal.SIGKILL)
        if self.drop_before_reply:  # the connection breaks before the "250" reaches the client
            server.transport.abort()
            return "250 OK"
        if self.close_after_data:
            asyncio.get_running_loop().call_soon(server.transport.close)
        return self.data_reply

    async def handle_QUIT(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook)
        return self.quit_reply if self.quit_reply else "221 Bye"


@pytest.fixture
def serve():
    started: list[Controller] = []

    def start(handler, port: int | None = None) -> Controller:
        controller = Controller(handler, hostname="127.0.0.1", port=port or _free_port())
        controller.start()
        started.append(controller)
        return controller

    yield start
    for c in started:
        c.stop()


def _settings(settings, port: int):
    return replace(settings, smtp_host="127.0.0.1", smtp_port=port, mail_from="digest@biotracker.example",
                   smtp_retries=3, smtp_retry_delay_s=0.0, smtp_timeout_s=10.0)


def _state(settings) -> dict[str, list[str]]:
    box = Outbox(settings.out_dir / "mail")
    return {state.value: box.names(state) for state in MessageState}


def test_a_421_answer_to_quit_after_accepted_data_gets_the_message_once(store, serve):
    settings, engine = store
    server = Misbehaving(quit_reply="421 4.3.2 service shutting down")
    s = _settings(settings, serve(server).port)
    result = publish_day(engine, s, DAY, subscribers=SubscriberBook((DESK,)), source_kinds=KINDS, sent_at=SENT_AT)
    assert len(server.messages) == 1 and list(result.mailed) == ["desk"] and result.failed == {}
    assert len(_state(s)["sent"]) == 1 and _state(s)["outbox"] == [] and _state(s)["sending"] == []
    publish_day(engine, s, DAY, subscribers=SubscriberBook((DESK,)), source_kinds=KINDS, sent_at=SENT_AT)
    assert send_outbox(s).sent == [] and len(server.messages) == 1


def test_a_server_that_closes_right_after_accepting_gets_the_message_once(store, serve):
    settings, engine = store
    server = Misbehaving(close_after_data=True)
    s = _settings(settings, serve(server).port)
    result = publish_day(engine, s, DAY, subscribers=SubscriberBook((DESK,)), source_kinds=KINDS, sent_at=SENT_AT)
    assert len(server.messages) == 1 and list(result.mailed) == ["desk"]
    publish_day(engine, s, DAY, subscribers=SubscriberBook((DESK,)), source_kinds=KINDS, sent_at=SENT_AT)
    assert len(server.messages) == 1


def test_an_odd_success_code_is_still_success_and_not_retried(store, serve):
    settings, engine = store
    server = Misbehaving(data_reply="251 OK, queued elsewhere", quit_reply="421 bye")
    s = _settings(settings, serve(server).port)
    result = publish_day(engine, s, DAY, subscribers=SubscriberBook((DESK,)), source_kinds=KINDS, sent_at=SENT_AT)
    assert len(server.messages) == 1 and list(result.mailed) == ["desk"]


def test_a_session_broken_during_data_is_in_doubt_and_never_resent_automatically(store, serve):
    settings, engine = store
    server = Misbehaving(drop_before_reply=True)
    s = _settings(settings, serve(server).port)
    with pytest.raises(DeliveryInDoubtError, match="resend-in-doubt") as raised:
        publish_day(engine, s, DAY, subscribers=SubscriberBook((DESK,)), source_kinds=KINDS, sent_at=SENT_AT)
    assert list(raised.value.result.in_doubt) == ["desk"]  # type: ignore[attr-defined]
    assert len(server.messages) == 1 and len(_state(s)["sending"]) == 1
    server.drop_before_reply = False  # the server is healthy again: still nothing is re-sent
    with pytest.raises(DeliveryInDoubtError):
        publish_day(engine, s, DAY, subscribers=SubscriberBook((DESK,)), source_kinds=KINDS, sent_at=SENT_AT)
    later = send_outbox(s)
    assert later.sent == [] and list(later.in_doubt) == _state(s)["sending"] and len(server.messages) == 1
    # The operator checked: it did not arrive. Now (and only now) it goes again.
    resent = send_outbox(s, resend_in_doubt=True)
    assert len(resent.sent) == 1 and len(server.messages) == 2 and _state(s)["sending"] == []


def test_a_refused_data_is_retried_because_the_server_does_not_have_it(store, serve):
    settings, engine = store

    class RefuseOnce(Misbehaving):
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            if not getattr(self, "refused", False):
                self.refused = True
                return "451 4.3.0 try again"
            return await super().handle_DATA(server, session, envelope)

    server = RefuseOnce()
    s = _settings(settings, serve(server).port)
    publish_day(engine, s, DAY, subscribers=SubscriberBook((DESK,)), source_kinds=KINDS, sent_at=SENT_AT)
    assert len(server.messages) == 1 and len(_state(s)["sent"]) == 1


def test_a_kill_after_the_server_accepted_data_does_not_resend_on_the_next_run(store, serve, tmp_path):
    settings, _ = store
    subs = tmp_path / "subs.toml"
    subs.write_text('[[subscriber]]\nname = "desk"\nkind = "public_health"\nclearance = "AMBER"\n'
                    'email = "desk@health.example"\n')
    server = Misbehaving()
    port = serve(server).port
    env = {**os.environ, "BIOTRACKER_HOME": str(settings.home), "BIOTRACKER_SUBSCRIBERS_FILE": str(subs),
           "BIOTRACKER_SMTP_HOST": "127.0.0.1", "BIOTRACKER_SMTP_PORT": str(port),
           "BIOTRACKER_SMTP_RETRY_DELAY_S": "0"}
    command = [BIOTRACKER, "mail", "digests", "--day", DAY.isoformat()]
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    server.kill_pid = first.pid
    first.communicate(timeout=120)
    assert first.returncode == -signal.SIGKILL and len(server.messages) == 1
    server.kill_pid = None
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert len(server.messages) == 1, "the digest was sent a second time"
    assert again.returncode == 2 and "Traceback" not in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1 and "in doubt" in again.stderr
    outbox = subprocess.run([BIOTRACKER, "mail", "send-outbox"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert len(server.messages) == 1 and outbox.returncode == 1 and "in doubt" in outbox.stdout


def test_the_message_id_is_stable_for_the_same_digest_and_changes_with_its_content(store):
    _, engine = store
    data = load_output_data(engine, None, source_kinds=KINDS)
    rendered = render_digest(data, DESK, DAY, 7)
    first = compose_digest_email(rendered, mail_from="d@biotracker.example", sent_at=SENT_AT)
    later = compose_digest_email(rendered, mail_from="d@biotracker.example", sent_at=SENT_AT + dt.timedelta(hours=5))
    assert first["Message-ID"] == later["Message-ID"] and first["Message-ID"].endswith("@biotracker.example>")
    other = render_digest(data, replace(DESK, clearance=Tlp.CLEAR), DAY, 7)
    assert compose_digest_email(other, mail_from="d@biotracker.example", sent_at=SENT_AT)["Message-ID"] != first["Message-ID"]
    parsed = email.message_from_bytes(first.as_bytes(), policy=email.policy.default)
    assert parsed["Message-ID"] == first["Message-ID"]


def test_a_digest_sent_before_subscriber_keys_is_not_sent_again_after_the_upgrade(store, serve):
    settings, engine = store
    server = Misbehaving()
    s = _settings(settings, serve(server).port)
    legacy = s.out_dir / "mail" / "sent" / "digest-2024-06-17-desk.eml"  # how earlier versions named it
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(b"Subject: the digest of that day\r\n\r\nsent before the upgrade\r\n")
    result = publish_day(engine, s, DAY, subscribers=SubscriberBook((DESK,)), source_kinds=KINDS, sent_at=SENT_AT)
    assert server.messages == [] and result.mailed == {"desk": str(legacy)}


def test_a_250_that_cannot_be_recorded_is_in_doubt_not_sent_again(store, serve):
    settings, engine = store
    server = Misbehaving()
    s = _settings(settings, serve(server).port)
    blocker = s.out_dir / "mail" / "sent"  # a file where the sent/ folder should be: the record cannot be written
    blocker.parent.mkdir(parents=True)
    blocker.write_text("not a folder")
    with pytest.raises(DeliveryInDoubtError):
        publish_day(engine, s, DAY, subscribers=SubscriberBook((DESK,)), source_kinds=KINDS, sent_at=SENT_AT)
    assert len(server.messages) == 1 and len(_state_without_sent(s)) == 1


def _state_without_sent(settings) -> list[str]:
    return Outbox(settings.out_dir / "mail").names(MessageState.IN_DOUBT)
