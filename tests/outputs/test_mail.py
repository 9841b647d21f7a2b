"""Email: real delivery to a local SMTP server (aiosmtpd), read back; STARTTLS + auth; retries; nothing lost."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import json
import socket
import ssl
from dataclasses import replace
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from biotracker.errors import PublishError
from biotracker.outputs.audience import Audience
from biotracker.outputs.digest import render_digest
from biotracker.outputs.mail import mail_digest, send_outbox
from biotracker.outputs.publish import publish_day
from biotracker.outputs.audience import SubscriberBook, subscriber_key
from biotracker.outputs.records import load_output_data
from biotracker.schema import Tlp
from tests.outputs.sample_store import DAY, KINDS, LE_MARKER

SENT_AT = dt.datetime(2024, 6, 17, 6, 0, tzinfo=dt.timezone.utc)


class Mailbox:
    """aiosmtpd handler that keeps what it accepts; can refuse the first ``refuse`` messages (451)."""

    def __init__(self, refuse: int = 0) -> None:
        self.messages: list[tuple[list[str], bytes]] = []
        self.refuse = refuse
        self.attempts = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook name)
        self.attempts += 1
        if self.attempts <= self.refuse:
            return "451 4.3.0 try again later"
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    started = []

    def start(handler, **kwargs):
        controller = Controller(handler, hostname="127.0.0.1", port=_free_port(), **kwargs)
        controller.start()
        started.append(controller)
        return controller

    yield start
    for c in started:
        c.stop()


def _settings(settings, port: int, **extra):
    return replace(settings, smtp_host="127.0.0.1", smtp_port=port, mail_from="digest@biotracker.example",
                   smtp_retries=2, smtp_retry_delay_s=0.0, smtp_timeout_s=10.0, **extra)


def _rendered(engine, audience: Audience):
    return render_digest(load_output_data(engine, None, source_kinds=KINDS), audience, DAY, 7)


def test_digest_is_delivered_as_multipart_text_and_html_and_read_back(store, smtp_server):
    settings, engine = store
    box = Mailbox()
    server = smtp_server(box)
    s = _settings(settings, server.port)
    audience = Audience("health", Tlp.AMBER, "public_health", email="ebs@health.example")
    sent_path = mail_digest(_rendered(engine, audience), s, sent_at=SENT_AT)

    assert len(box.messages) == 1
    rcpts, raw = box.messages[0]
    assert rcpts == ["ebs@health.example"]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"] == "[TLP:AMBER] Biotracker digest 2024-06-17: 2 alerts"
    assert msg["X-TLP"] == "TLP:AMBER" and msg["From"] == "digest@biotracker.example"
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert text.startswith("TLP:AMBER") and "2 cholera incident(s) in NGA" in text
    assert '<svg xmlns="http://www.w3.org/2000/svg" id="alert-map"' in html and "Anthrax - France" in html
    assert LE_MARKER not in raw.decode("utf-8", "replace")
    # Stored before sending, moved to sent/ after: the outbox is empty.
    assert sent_path.parent.name == "sent" and b"Biotracker digest 2024-06-17" in sent_path.read_bytes()
    assert not list((s.out_dir / "mail" / "outbox").glob("*.eml"))


def test_transient_refusals_are_retried(store, smtp_server):
    settings, engine = store
    box = Mailbox(refuse=2)
    server = smtp_server(box)
    s = _settings(settings, server.port)
    mail_digest(_rendered(engine, Audience("h", Tlp.GREEN, "partner", email="x@partner.example")), s, sent_at=SENT_AT)
    assert box.attempts == 3 and len(box.messages) == 1


def test_a_failed_send_loses_nothing_and_the_outbox_is_sent_later(store, smtp_server):
    settings, engine = store
    port = _free_port()  # nothing listens here yet
    s = _settings(settings, port)
    pauses: list[float] = []
    rendered = _rendered(engine, Audience("h", Tlp.GREEN, "partner", email="x@partner.example"))
    with pytest.raises(PublishError, match="stored at .*outbox"):
        mail_digest(rendered, s, sent_at=SENT_AT, sleep=pauses.append)
    assert pauses == [0.0, 0.0]  # two retries after the first attempt
    stored = list((s.out_dir / "mail" / "outbox").glob("*.eml"))
    assert len(stored) == 1 and b"Biotracker digest 2024-06-17" in stored[0].read_bytes()

    box = Mailbox()
    server = Controller(box, hostname="127.0.0.1", port=port)  # the server comes back on the same port
    server.start()
    try:
        result = send_outbox(s)
    finally:
        server.stop()
    assert len(result.sent) == 1 and result.failed == {} and len(box.messages) == 1
    assert not list((s.out_dir / "mail" / "outbox").glob("*.eml"))


def _self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "smtp.crt", tmp_path / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_starttls_and_login_when_configured(store, smtp_server, tmp_path):
    settings, engine = store
    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    logins: list[tuple[str, bool]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"desk", b"s3cret")
        logins.append((auth_data.login.decode(), bool(session.ssl)))
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

    box = Mailbox()
    server = smtp_server(box, tls_context=context, require_starttls=True, authenticator=authenticator,
                         auth_required=True)
    s = _settings(settings, server.port, smtp_starttls=True, smtp_ca_file=cert, smtp_user="desk", smtp_password="s3cret")
    mail_digest(_rendered(engine, Audience("h", Tlp.GREEN, "partner", email="x@partner.example")), s, sent_at=SENT_AT)
    assert len(box.messages) == 1 and logins == [("desk", True)]  # logged in only after STARTTLS
    # Wrong password: refused at once (retrying cannot help), reported, kept in the outbox.
    bad = replace(s, smtp_password="wrong")
    pauses: list[float] = []
    with pytest.raises(PublishError, match="after 1 attempt"):
        mail_digest(_rendered(engine, Audience("h2", Tlp.GREEN, "partner", email="y@partner.example")), bad,
                    sent_at=SENT_AT, sleep=pauses.append)
    assert pauses == []
    assert len(box.messages) == 1 and len(list((s.out_dir / "mail" / "outbox").glob("*.eml"))) == 1


def test_publish_day_stores_everything_and_mails_each_subscriber_what_it_may_read(store, smtp_server):
    settings, engine = store
    box = Mailbox()
    server = smtp_server(box)
    s = _settings(settings, server.port)
    book = SubscriberBook((
        Audience("police", Tlp.RED, "law_enforcement", email="desk@police.example"),
        Audience("bulletin", Tlp.CLEAR, "public", email="list@public.example"),
        Audience("archive", Tlp.GREEN, "partner"),  # no address: stored only
    ))
    result = publish_day(engine, s, DAY, subscribers=book, source_kinds=KINDS, sent_at=SENT_AT)
    assert set(result.mailed) == {"police", "bulletin"} and result.failed == {}
    assert result.digest.alerts == 3 and result.exports.cap_messages == 3 and result.exports.json_alerts == 3
    assert result.subscriber_digests["archive"].html.exists()
    bulletin = result.subscriber_exports["bulletin"]
    assert bulletin.cap_messages == 1 and bulletin.tlp == {"cap": "CLEAR", "stix": "CLEAR", "json": "CLEAR"}
    assert result.subscriber_exports["police"].cap_messages == 3
    bulletin_files = Path(bulletin.paths["json"]).parent
    assert bulletin_files == s.out_dir / "exports-2024-06-17" / "subscribers" / subscriber_key("bulletin")
    assert not any(LE_MARKER in p.read_text() for p in bulletin_files.rglob("*") if p.is_file())
    delivered = {rcpt[0]: raw.decode("utf-8", "replace") for rcpt, raw in box.messages}
    assert LE_MARKER in delivered["desk@police.example"]
    assert LE_MARKER not in delivered["list@public.example"] and "Anthrax" not in delivered["list@public.example"]
    assert "[TLP:CLEAR]" in delivered["list@public.example"] and "[TLP:AMBER+STRICT]" in delivered["desk@police.example"]
    # Running the day again (an Airflow retry) rewrites the files but mails nobody twice.
    again = publish_day(engine, s, DAY, subscribers=book, source_kinds=KINDS, sent_at=SENT_AT)
    assert set(again.mailed) == {"police", "bulletin"} and len(box.messages) == 2


def test_mail_commands_store_then_send_the_outbox(store, smtp_server, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from biotracker.cli.main import app

    settings, _ = store
    subs = tmp_path / "subs.toml"
    subs.write_text('[[subscriber]]\nname = "desk"\nkind = "public_health"\nclearance = "AMBER"\n'
                    'email = "desk@health.example"\n')
    box = Mailbox()
    server = smtp_server(box)
    for key, value in {"HOME": settings.home, "SUBSCRIBERS_FILE": subs, "SMTP_HOST": "127.0.0.1",
                       "SMTP_PORT": server.port, "SMTP_RETRY_DELAY_S": 0}.items():
        monkeypatch.setenv(f"BIOTRACKER_{key}", str(value))
    runner = CliRunner()
    stored = runner.invoke(app, ["mail", "digests", "--day", DAY.isoformat(), "--dry-run", "--json"])
    assert stored.exit_code == 0, stored.output
    assert list(json.loads(stored.output)["queued"]) == ["desk"] and box.messages == []
    sent = runner.invoke(app, ["mail", "send-outbox", "--json"])
    assert sent.exit_code == 0, sent.output
    assert json.loads(sent.output)["sent"] == 1 and [m[0] for m in box.messages] == [["desk@health.example"]]
