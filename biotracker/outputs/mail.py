"""Email delivery of digests: multipart text + HTML over SMTP, each message delivered exactly once.

A message is written to the outbox (:class:`~biotracker.outputs.outbox.Outbox`) before any
attempt. Just before the DATA command it moves to ``sending/``; when the server answers DATA with
"250" it moves to ``sent/`` at once, before QUIT, so a server that then fails QUIT (421), closes the
connection or a process killed afterwards never causes a second copy. A session that breaks while
DATA is under way leaves the message in ``sending/`` ("in doubt"): it is reported, never sent again
automatically. Failures before DATA (connection, STARTTLS, login, MAIL, RCPT) and refusals of DATA
are retried with a growing pause; the last failure raises :class:`~biotracker.errors.PublishError`.

The Message-ID is derived from the subscriber, the day and the content, so the same digest always
carries the same id and a receiving system can discard a copy it has already seen.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import hashlib
import logging
import re
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime

from biotracker.config import Settings
from biotracker.errors import ConfigError, DeliveryInDoubtError, PublishError
from biotracker.outputs.audience import Audience
from biotracker.outputs.digest import RenderedDigest
from biotracker.outputs.outbox import MessageState, Outbox
from biotracker.schema import as_utc
from biotracker.storage import StoragePath

log = logging.getLogger(__name__)
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")


def message_id(rendered: RenderedDigest, mail_from: str) -> str:
    """``<digest.<day>.<hash>@<sender domain>>``, the hash taken over the subscriber's key and the
    message's content: stable for the same digest to the same subscriber, different as soon as a word
    of it changes, and short enough that the header is never folded."""
    audience = rendered.delivery.audience
    content = hashlib.sha256()
    for part in (audience.path_key, audience.email or "", rendered.subject, rendered.text, rendered.html):
        content.update(part.encode("utf-8", "surrogatepass") + b"\0")
    domain = mail_from.rpartition("@")[2]
    domain = domain if _DOMAIN.fullmatch(domain) and len(domain) <= 40 else "localhost"
    return f"<digest.{rendered.day.isoformat()}.{content.hexdigest()[:24]}@{domain}>"


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
    msg["Message-ID"] = message_id(rendered, mail_from)
    msg["X-TLP"] = str(rendered.tlp)
    msg["Sensitivity"] = "Company-Confidential" if rendered.tlp.value != "CLEAR" else "Normal"
    msg.set_content(rendered.text, subtype="plain", charset="utf-8")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8")
    return msg


def mail_dir(settings: Settings) -> StoragePath:
    return settings.out_dir / "mail"


def outbox_of(settings: Settings) -> Outbox:
    return Outbox(mail_dir(settings))


def message_name(day: dt.date, audience: Audience) -> str:
    """File stem of a subscriber's digest message for ``day`` (the same in every outbox folder)."""
    return f"digest-{day.isoformat()}-{audience.path_key}"


def store_message(msg: EmailMessage, settings: Settings, name: str) -> StoragePath:
    """Write the message to the outbox (before any send attempt) and return its path."""
    return outbox_of(settings).store(f"{name}.eml", msg.as_bytes())


class _RecordingSMTP(smtplib.SMTP):
    """``smtplib.SMTP`` that calls ``before_data`` right before the DATA command, so the message is
    recorded as "in doubt" before the server can possibly have it."""

    before_data: Callable[[], None] = staticmethod(lambda: None)

    def data(self, msg):
        self.before_data()
        return super().data(msg)


def _open_session(settings: Settings) -> _RecordingSMTP:
    if not settings.smtp_host:
        raise ConfigError(
            "no SMTP server: set BIOTRACKER_SMTP_HOST (and SMTP_PORT, SMTP_STARTTLS, SMTP_USER, "
            "SMTP_PASSWORD as needed)"
        )
    if settings.smtp_ca_file is not None and not settings.smtp_ca_file.is_file():
        raise ConfigError(
            f"BIOTRACKER_SMTP_CA_FILE={settings.smtp_ca_file} does not exist; point it at the PEM file of the "
            "CA that signed the SMTP server's certificate, or unset it to use the system's"
        )
    smtp = _RecordingSMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_s)
    try:
        smtp.ehlo()
        if settings.smtp_starttls:
            cafile = str(settings.smtp_ca_file) if settings.smtp_ca_file else None
            smtp.starttls(context=ssl.create_default_context(cafile=cafile))
            smtp.ehlo()
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password)
    except BaseException:
        smtp.close()
        raise
    return smtp


def _close_session(smtp: smtplib.SMTP, name: str) -> None:
    """QUIT politely; whatever the server answers changes nothing about the message any more."""
    try:
        code, reply = smtp.docmd("QUIT")
        if code != 221:
            log.warning("SMTP server answered QUIT after %s with %s %r (ignored)", name, code, reply)
    except (smtplib.SMTPException, OSError) as exc:
        log.warning("SMTP session after %s did not end cleanly: %s (ignored)", name, exc)
    finally:
        smtp.close()


def _deliver_once(msg: EmailMessage, settings: Settings, outbox: Outbox, name: str) -> None:
    """One attempt. Moves the message to ``sending/`` before DATA and to ``sent/`` on "250"; back to
    the outbox when the server refuses DATA; leaves it in ``sending/`` when the session breaks
    during DATA (then raises :class:`DeliveryInDoubtError`)."""
    smtp = _open_session(settings)
    started = False

    def before_data() -> None:
        nonlocal started
        outbox.move(name, MessageState.QUEUED, MessageState.IN_DOUBT)
        started = True

    smtp.before_data = before_data
    try:
        smtp.send_message(msg)
    except smtplib.SMTPDataError as exc:
        if started and 200 <= exc.smtp_code < 300:
            # Any 2xx is acceptance, even where RFC 5321 says 250: never send such a message twice.
            log.warning("SMTP server accepted %s with %s instead of 250", name, exc.smtp_code)
        else:
            if started:  # the server answered DATA with a refusal: it does not have the message
                outbox.move(name, MessageState.IN_DOUBT, MessageState.QUEUED)
            smtp.close()
            raise
    except (smtplib.SMTPException, OSError) as exc:
        smtp.close()
        if started:
            raise DeliveryInDoubtError(
                f"the SMTP session broke while {name} was being sent to {msg['To']} ({exc}); the server "
                f"may have delivered it, so it is not sent again automatically. Ask the recipient "
                f"whether Message-ID {msg['Message-ID']} arrived; if not, run "
                "`biotracker mail send-outbox --resend-in-doubt`."
            ) from exc
        raise
    outbox.move(name, MessageState.IN_DOUBT, MessageState.SENT)
    _close_session(smtp, name)


def transient(exc: Exception) -> bool:
    """Worth retrying: network trouble and 4xx replies; not bad credentials or 5xx refusals."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return False
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return any(code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code < 500
    return True


def send_stored(
    path: StoragePath,
    settings: Settings,
    *,
    sleep: Callable[[float], None] = time.sleep,
    resend: bool = False,
) -> StoragePath:
    """Send one message of the outbox, retrying what cannot have reached the server; return its path in ``sent/``.

    A message whose name is already in ``sent/`` or ``sending/`` is not sent again unless ``resend``.
    """
    outbox = outbox_of(settings)
    name = path.name
    earlier = _earlier_state(outbox, name)
    if earlier is MessageState.SENT and not resend:
        outbox.path(name, MessageState.QUEUED).unlink(missing_ok=True)
        return outbox.path(name, MessageState.SENT)
    if earlier is MessageState.IN_DOUBT and not resend:
        raise DeliveryInDoubtError(
            f"{name} may already have been delivered (an earlier session broke during DATA); it is "
            "not sent again automatically. Check the recipient's mailbox, then run "
            "`biotracker mail send-outbox --resend-in-doubt` if it did not arrive."
        )
    msg = BytesParser(policy=email.policy.SMTP).parsebytes(
        outbox.path(name, MessageState.QUEUED).read_bytes()
    )
    attempts = max(1, settings.smtp_retries + 1)
    last: Exception | None = None
    for attempt in range(1, attempts + 1):
        state = _earlier_state(outbox, name) if attempt > 1 else None
        if state is MessageState.SENT and not resend:
            return outbox.path(name, MessageState.SENT)  # another process sent it meanwhile
        if state is MessageState.IN_DOUBT:  # e.g. the record of a "250" could not be written
            raise DeliveryInDoubtError(
                f"{name} may already have been delivered; it is not sent again automatically. Check the "
                "recipient's mailbox, then run `biotracker mail send-outbox --resend-in-doubt` if it did not arrive."
            )
        try:
            _deliver_once(msg, settings, outbox, name)
            last = None
            break
        except DeliveryInDoubtError:
            raise
        except (smtplib.SMTPException, OSError) as exc:
            last = exc
            log.warning("sending %s failed (attempt %d of %d): %s", name, attempt, attempts, exc)
            if not transient(exc):
                attempts = attempt
                break
            if attempt < attempts:
                sleep(settings.smtp_retry_delay_s * attempt)
    if last is not None:
        raise PublishError(
            f"could not send {name} to {msg['To']} via {settings.smtp_host}:{settings.smtp_port} after "
            f"{attempts} attempt(s): {last}. The message is stored at {outbox.path(name, MessageState.QUEUED)}; "
            "fix the cause, then run `biotracker mail send-outbox`."
        ) from last
    log.info("sent %s to %s", name, msg["To"])
    return outbox.path(name, MessageState.SENT)


def _earlier_state(outbox: Outbox, name: str) -> MessageState | None:
    """A state beyond the outbox that an earlier run (or attempt) left for this name: sent or in doubt."""
    state = outbox.state_of(name)
    return None if state is MessageState.QUEUED else state


@dataclass
class MailResult:
    sent: list[StoragePath]
    failed: dict[str, str]
    in_doubt: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        return {"sent": len(self.sent), "failed": self.failed, "in_doubt": self.in_doubt}


def send_outbox(
    settings: Settings, *, sleep: Callable[[float], None] = time.sleep, resend_in_doubt: bool = False
) -> MailResult:
    """Send every stored message still in the outbox; one failure does not stop the others.

    Messages in doubt (``sending/``) are reported, not sent; with ``resend_in_doubt`` (after checking
    with the recipients) they go back to the outbox and are sent again.
    """
    result = MailResult([], {})
    outbox = outbox_of(settings)
    for name in outbox.names(MessageState.IN_DOUBT):
        if resend_in_doubt:
            outbox.move(name, MessageState.IN_DOUBT, MessageState.QUEUED)
        else:
            result.in_doubt[name] = (
                "may already have been delivered; check, then use --resend-in-doubt to send it again"
            )
    for name in outbox.names(MessageState.QUEUED):
        try:
            result.sent.append(send_stored(outbox.path(name, MessageState.QUEUED), settings, sleep=sleep))
        except DeliveryInDoubtError as exc:
            result.in_doubt[name] = str(exc)
        except PublishError as exc:
            result.failed[name] = str(exc)
    return result


def mail_digest(
    rendered: RenderedDigest,
    settings: Settings,
    *,
    sent_at: dt.datetime,
    sleep: Callable[[float], None] = time.sleep,
) -> StoragePath:
    """Compose, store, then send one subscriber's digest; returns where the sent message is kept."""
    msg = compose_digest_email(rendered, mail_from=settings.mail_from, sent_at=sent_at)
    stored = store_message(msg, settings, message_name(rendered.day, rendered.delivery.audience))
    return send_stored(stored, settings, sleep=sleep)
