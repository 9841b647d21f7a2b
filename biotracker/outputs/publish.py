"""Publish one day: the internal digest and exports, and each subscriber's digest, stored then mailed.

This is what the ``publish_digest`` DAG and the demo call. Every output goes through the same
audience filter; a subscriber without an address, or a run without an SMTP server, still gets its
digest stored (and queued in the outbox when it has an address), so nothing is lost.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import Engine

from biotracker.config import Settings
from biotracker.errors import DeliveryInDoubtError, PublishError
from biotracker.outputs.audience import (
    INTERNAL,
    Audience,
    SubscriberBook,
    load_subscribers,
    registered_source_kinds,
)
from biotracker.outputs.cap import export_cap
from biotracker.outputs.digest import (
    DigestFiles,
    digest_window,
    render_digest,
    write_digest,
    write_subscriber_digest,
)
from biotracker.outputs.jsonexport import export_json
from biotracker.outputs.mail import (
    compose_digest_email,
    message_name,
    outbox_of,
    send_stored,
    store_message,
)
from biotracker.outputs.outbox import MessageState
from biotracker.outputs.records import OutputData, load_output_data, reading_scope
from biotracker.outputs.stix import export_stix
from biotracker.schema import SourceKind, Window, as_utc
from biotracker.storage import StoragePath


@dataclass
class ExportResult:
    cap_messages: int
    stix_objects: dict[str, int]
    json_alerts: int
    json_incidents: int
    paths: dict[str, str]
    tlp: dict[str, str]

    def summary(self) -> dict[str, object]:
        return {
            "cap_messages": self.cap_messages,
            "stix_objects": self.stix_objects,
            "json_alerts": self.json_alerts,
            "json_incidents": self.json_incidents,
            "paths": self.paths,
            "tlp": self.tlp,
        }


def export_all(
    engine: Engine,
    settings: Settings,
    audience: Audience = INTERNAL,
    *,
    window: Window | None = None,
    out_dir: StoragePath | None = None,
    source_kinds: Mapping[str, SourceKind] | None = None,
    sent_at: dt.datetime | None = None,
) -> ExportResult:
    """CAP messages (``cap/``), the STIX bundle (``stix-bundle.json``) and the JSON export (``export.json``)."""
    data = load_output_data(engine, window, source_kinds=source_kinds, audience=audience)
    return write_exports(data, settings, audience, out_dir or settings.out_dir, sent_at=sent_at)


def write_exports(
    data: OutputData,
    settings: Settings,
    audience: Audience,
    out: StoragePath,
    *,
    sent_at: dt.datetime | None = None,
) -> ExportResult:
    cap = export_cap(data, audience, out / "cap", sender=settings.mail_from, sent_at=sent_at)
    stix = export_stix(data, audience, out / "stix-bundle.json")
    js = export_json(data, audience, out / "export.json")
    return ExportResult(
        cap_messages=len(cap.files),
        stix_objects=stix.objects,
        json_alerts=js.alerts,
        json_incidents=js.incidents,
        paths={"cap": str(cap.directory), "stix": str(stix.path), "json": str(js.path)},
        tlp={"cap": cap.marking.value, "stix": stix.marking.value, "json": js.marking.value},
    )


@dataclass
class PublishResult:
    digest: DigestFiles
    exports: ExportResult
    subscriber_digests: dict[str, DigestFiles] = field(default_factory=dict)
    subscriber_exports: dict[str, ExportResult] = field(default_factory=dict)
    mailed: dict[str, str] = field(default_factory=dict)
    queued: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    #: Subscribers whose message may have been delivered by a broken session: not sent again.
    in_doubt: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        return {
            "digest": self.digest.summary(),
            "exports": self.exports.summary(),
            "subscribers": {k: v.summary() for k, v in self.subscriber_digests.items()},
            "subscriber_exports": {k: v.summary() for k, v in self.subscriber_exports.items()},
            "mailed": self.mailed,
            "queued": self.queued,
            "failed": self.failed,
            "in_doubt": self.in_doubt,
        }


def _legacy_sent(settings: Settings, day: dt.date, audience: Audience) -> StoragePath | None:
    """A digest sent before subscriber keys named the files (``sent/digest-<day>-<raw name>.eml``,
    unsafe characters as ``_``): sent, so the first run after an upgrade mails nobody twice."""
    legacy = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"digest-{day.isoformat()}-{audience.name}")
    path = outbox_of(settings).root / "sent" / f"{legacy}.eml"
    return path if path.is_file() else None


def publish_day(
    engine: Engine,
    settings: Settings,
    day: dt.date,
    *,
    lookback_days: int | None = None,
    subscribers: SubscriberBook | None = None,
    send: bool = True,
    sent_at: dt.datetime | None = None,
    source_kinds: Mapping[str, SourceKind] | None = None,
    resend: bool = False,
) -> PublishResult:
    """Digest + exports for the analysts, then each subscriber's digest (stored, then mailed) and exports.

    Files: ``digest-<day>.html|.txt`` and ``exports-<day>/`` (cap/, stix-bundle.json, export.json)
    for the analysts; ``digests/digest-<day>-<key>.*`` and ``exports-<day>/subscribers/<key>/``
    per subscriber, each holding only what that subscriber may receive. ``<key>`` is the subscriber's
    :func:`~biotracker.outputs.audience.subscriber_key` (a slug plus a hash of the exact name), so no
    two subscribers share a file and no name reaches outside its own folder.

    ``sent_at`` (default: midnight UTC of ``day``) dates the emails and CAP updates, so a re-run is
    reproducible. Mail failures are collected in ``failed`` (messages stay in the outbox) and
    sessions that broke during DATA in ``in_doubt``; neither stops other subscribers. Raises
    :class:`PublishError` at the end if any send failed, so the task is retried while every file is
    already written; a digest already sent (or in doubt) for ``day`` is not sent again unless ``resend``.
    """
    kinds = registered_source_kinds() if source_kinds is None else source_kinds
    moment = as_utc(sent_at or day)
    lookback = settings.digest_lookback_days if lookback_days is None else lookback_days
    window = digest_window(day, lookback)
    read: dict[str, OutputData] = {}

    def data_for(audience: Audience) -> OutputData:
        """Read once per visibility scope (the one the audience is cleared for), filter per audience."""
        scope = reading_scope(engine, audience, kinds)
        if scope.key not in read:
            read[scope.key] = load_output_data(engine, window, source_kinds=kinds, scope=scope)
        return read[scope.key]

    data = data_for(INTERNAL)
    digest = write_digest(render_digest(data, INTERNAL, day, lookback), settings.out_dir)
    day_dir = settings.out_dir / f"exports-{day.isoformat()}"
    exports = write_exports(data, settings, INTERNAL, day_dir, sent_at=moment)
    result = PublishResult(digest=digest, exports=exports)
    if subscribers is None and settings.subscribers_file is not None:
        subscribers = load_subscribers(settings.subscribers_file)
    for audience in subscribers.subscribers if subscribers else ():
        rendered = render_digest(data_for(audience), audience, day, lookback)
        result.subscriber_digests[audience.name] = write_subscriber_digest(rendered, settings.out_dir)
        # What partner systems ingest: the subscriber's own CAP messages and bundles.
        result.subscriber_exports[audience.name] = write_exports(
            data_for(audience),
            settings,
            audience,
            day_dir / "subscribers" / audience.path_key,
            sent_at=moment,
        )
        if not audience.email:
            continue
        name = f"{message_name(day, audience)}.eml"
        earlier = outbox_of(settings).state_of(name)
        legacy = _legacy_sent(settings, day, audience)
        if (earlier is MessageState.SENT or legacy) and not resend:  # a re-run mails nobody twice
            result.mailed[audience.name] = str(legacy or outbox_of(settings).path(name, MessageState.SENT))
            continue
        if earlier is MessageState.IN_DOUBT and not resend:
            result.in_doubt[audience.name] = f"{name} may already have been delivered; not sent again"
            continue
        stored = store_message(
            compose_digest_email(rendered, mail_from=settings.mail_from, sent_at=moment),
            settings,
            message_name(day, audience),
        )
        if not (send and settings.smtp_host):
            result.queued[audience.name] = str(stored)
            continue
        try:
            result.mailed[audience.name] = str(send_stored(stored, settings, resend=resend))
        except DeliveryInDoubtError as exc:
            result.in_doubt[audience.name] = str(exc)
        except PublishError as exc:
            result.failed[audience.name] = str(exc)
    if result.failed or result.in_doubt:
        error_type = PublishError if result.failed else DeliveryInDoubtError
        error = error_type(
            f"{len(result.failed)} digest email(s) not sent (stored in the outbox), "
            f"{len(result.in_doubt)} in doubt (not sent again; check with the recipients, then "
            "`biotracker mail send-outbox --resend-in-doubt`): "
            + "; ".join([*result.failed.values(), *result.in_doubt.values()])
        )
        error.result = result  # type: ignore[attr-defined]
        raise error
    return result
