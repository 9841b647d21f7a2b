"""Email delivery of digests: multipart text + HTML over SMTP, stored before it is sent.

A message is written to ``<out>/mail/outbox/<name>.eml`` first and moved to ``mail/sent/`` only
after the SMTP server accepted it, so a failed send loses nothing: :func:`send_outbox` (or the next
run) sends what is still in the outbox. Each attempt that fails with a network or SMTP error is
retried with a growing pause; the last failure raises :class:`~biotracker.errors.PublishError`.
STARTTLS and authentication follow the ``smtp_*`` settings.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import logging
import re
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid
from pathlib import Path

from biotracker import storage
from biotracker.config import Settings
from biotracker.errors import ConfigError, PublishError
from biotracker.outputs.audience import Audience
from biotracker.outputs.digest import RenderedDigest
from biotracker.schema import as_utc

log = logging.getLogger(__name__)


def compose_digest_email(rendered: RenderedDigest, *, mail_from: str, sent_at: dt.datetime) -> EmailMessage:
    """The digest as one multipart/alternative message to the audience's address, marked in subject and headers."""
    audience = rendered.delivery.audience
    if not audience.email:
        raise ConfigError(
            f'subscriber {audience.name!r} has no email address; add email = "..." to its profile'
        )
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["Subject"] = rendered.subject
    msg["From"] = mail_from
    msg["To"] = audience.email
    msg["Date"] = format_datetime(as_utc(sent_at))
    msg["Message-ID"] = make_msgid(
        idstring=f"digest-{rendered.day.isoformat()}-{_safe(audience.name)}",
        domain=mail_from.rpartition("@")[2] or "localhost",
    )
    msg["X-TLP"] = str(rendered.tlp)
    msg["Sensitivity"] = "Company-Confidential" if rendered.tlp.value != "CLEAR" else "Normal"
    msg.set_content(rendered.text, subtype="plain", charset="utf-8")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8")
    return msg


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def mail_dir(settings: Settings) -> Path:
    return settings.out_dir / "mail"


def message_name(day: dt.date, audience: Audience) -> str:
    """File stem of a subscriber's digest message for ``day`` (outbox and sent/)."""
    return _safe(f"digest-{day.isoformat()}-{audience.name}")


def store_message(msg: EmailMessage, settings: Settings, name: str) -> Path:
    """Write the message to the outbox (before any send attempt) and return its path."""
    path = mail_dir(settings) / "outbox" / f"{_safe(name)}.eml"
    storage.write_bytes(path, msg.as_bytes())
    return path


def _deliver_once(msg: EmailMessage, settings: Settings) -> None:
    if not settings.smtp_host:
        raise ConfigError(
            "no SMTP server: set BIOTRACKER_SMTP_HOST (and SMTP_PORT, SMTP_STARTTLS, SMTP_USER, "
            "SMTP_PASSWORD as needed)"
        )
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_s) as smtp:
        smtp.ehlo()
        if settings.smtp_starttls:
            cafile = str(settings.smtp_ca_file) if settings.smtp_ca_file else None
            smtp.starttls(context=ssl.create_default_context(cafile=cafile))
            smtp.ehlo()
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password)
        smtp.send_message(msg)


def transient(exc: Exception) -> bool:
    """Worth retrying: network trouble and 4xx replies; not bad credentials or 5xx refusals."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return False
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return any(code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code < 500
    return True


def send_stored(path: Path, settings: Settings, *, sleep: Callable[[float], None] = time.sleep) -> Path:
    """Send one stored message, retrying; on success move it to ``mail/sent/`` and return the new path."""
    msg = BytesParser(policy=email.policy.SMTP).parsebytes(path.read_bytes())
    attempts = max(1, settings.smtp_retries + 1)
    last: Exception | None = None
    for attempt in range(1, attempts + 1):
        try:
            _deliver_once(msg, settings)  # type: ignore[arg-type]
            last = None
            break
        except (smtplib.SMTPException, OSError) as exc:
            last = exc
            log.warning("sending %s failed (attempt %d of %d): %s", path.name, attempt, attempts, exc)
            if not transient(exc):
                attempts = attempt
                break
            if attempt < attempts:
                sleep(settings.smtp_retry_delay_s * attempt)
    if last is not None:
        raise PublishError(
            f"could not send {path.name} to {msg['To']} via {settings.smtp_host}:{settings.smtp_port} after "
            f"{attempts} attempt(s): {last}. The message is stored at {path}; fix the cause, then run "
            "`biotracker mail send-outbox`."
        ) from last
    target = storage.move(path, mail_dir(settings) / "sent" / path.name)
    log.info("sent %s to %s", path.name, msg["To"])
    return target


@dataclass
class MailResult:
    sent: list[Path]
    failed: dict[str, str]

    def summary(self) -> dict[str, object]:
        return {"sent": len(self.sent), "failed": self.failed}


def send_outbox(settings: Settings, *, sleep: Callable[[float], None] = time.sleep) -> MailResult:
    """Send every stored message still in the outbox; one failure does not stop the others."""
    result = MailResult([], {})
    outbox = mail_dir(settings) / "outbox"
    for path in sorted(outbox.glob("*.eml")) if outbox.is_dir() else []:
        try:
            result.sent.append(send_stored(path, settings, sleep=sleep))
        except PublishError as exc:
            result.failed[path.name] = str(exc)
    return result


def mail_digest(
    rendered: RenderedDigest,
    settings: Settings,
    *,
    sent_at: dt.datetime,
    sleep: Callable[[float], None] = time.sleep,
) -> Path:
    """Compose, store, then send one subscriber's digest; returns where the sent message is kept."""
    msg = compose_digest_email(rendered, mail_from=settings.mail_from, sent_at=sent_at)
    stored = store_message(msg, settings, message_name(rendered.day, rendered.delivery.audience))
    return send_stored(stored, settings, sleep=sleep)
