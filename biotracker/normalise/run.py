"""Stage 2: turn archived payloads into normalised reports (``normalise_pending``).

Reads payloads back from the raw archive, so it can be re-run at any time (``reprocess=True``).

Poison-pill isolation is the rule of this stage: every record is parsed, mapped, validated and
stored on its own. *Any* exception from one record (not only ``RecordError``: an
``OverflowError`` from a year-9999 date, a ``RecursionError`` from nested JSON, an
``AttributeError`` from a number where text was expected, a database refusing one row) sends that
record to quarantine with its stage, reason and locator, and the run goes on. A payload that
cannot be read at all is quarantined whole and still marked done, so it never stays pending and
never holds back the payloads behind it. Reports are upserted by ``report_id``, so re-runs never
duplicate.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.exc import OperationalError

from biotracker.config import Settings
from biotracker.db.tables import quarantine, raw_payloads, reports, source_health
from biotracker.db.upsert import upsert
from biotracker.errors import RecordError
from biotracker.ingest.connector import BadRecord, Connector
from biotracker.ingest.registry import connector_classes
from biotracker.normalise.enrich import enrich
from biotracker.normalise.fanout import per_country
from biotracker.raw.archive import RawPayloadMissing, read_payload
from biotracker.raw.quarantine import quarantine_item
from biotracker.schema import QuarantineItem, Report, Tlp, as_utc

log = logging.getLogger(__name__)

_EXCERPT = 500


@dataclass
class NormaliseSummary:
    payloads: int = 0
    reports: int = 0
    skipped: int = 0
    quarantined: int = 0
    by_source: dict[str, int] = field(default_factory=dict)
    #: reports written (new or changed): what ``build_incidents(report_ids=...)`` re-clusters
    report_ids: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        return {k: v for k, v in asdict(self).items() if k != "report_ids"} | {
            "report_ids": len(self.report_ids)
        }


def report_row(report: Report) -> dict[str, object]:
    return report.model_dump(mode="python") | {"report_id": report.report_id, "tlp": report.tlp.value}


def _validation_reason(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}" for e in exc.errors())


def failure_reason(exc: BaseException) -> str:
    """The quarantine reason for ``exc``, whatever its type (the type is named when unexpected)."""
    if isinstance(exc, RecordError):
        return str(exc)
    if isinstance(exc, ValidationError):
        return _validation_reason(exc)
    if isinstance(exc, KeyError):
        return f"missing field {exc}"
    if isinstance(exc, RecursionError):
        return "nested too deeply to read (RecursionError): a broken or hostile payload"
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def _excerpt(item: Any) -> str:
    try:
        return repr(item)[:_EXCERPT]
    except Exception:  # noqa: BLE001 (a repr that fails must not stop the run either)
        return f"<{type(item).__name__}>"


def _items(connector: Connector, body: bytes) -> Iterator[dict[str, Any] | BadRecord]:
    """The payload's items; whatever breaks the reading becomes one ``BadRecord`` at the end.

    Items read before the break are kept (a truncated feed still gives its first items).
    """
    count = 0
    try:
        problem = connector.unusable_payload(body, None)
        if problem:
            yield BadRecord("payload", f"payload is {problem}", body[:_EXCERPT].decode("utf-8", "replace"))
            return
        for item in connector.records(body):
            count += 1
            yield item
    except Exception as exc:  # noqa: BLE001 (poison-pill isolation: every failure is quarantined)
        reason = failure_reason(exc)
        if count:
            reason = f"reading stopped after {count} item(s), which were kept: {reason}"
        yield BadRecord("payload", reason, body[:_EXCERPT].decode("utf-8", "replace"))


def _date_fallback(connector: Connector, report: Report, fetched_at: dt.datetime | None) -> Report:
    """A dated source's item without a date is dated by the fetch, and the report says so.

    Incremental sources (``cursor_field`` set) promise a date per item; an item that has none
    (empty or absent field; an unreadable one is an error upstream) would otherwise be stored
    undated and vanish from every weekly series. The fetch time is the latest moment the item can
    have been published, and ``evidence["date_fallback"]`` records that it is a fallback.
    """
    if report.published_at is not None or not connector.cursor_field or fetched_at is None:
        return report
    note = f"published_at is the fetch time: the item has no {connector.cursor_field!r} date"
    return report.model_copy(
        update={
            "published_at": fetched_at,
            "observed_at": report.observed_at or fetched_at,
            "evidence": {**report.evidence, "date_fallback": note},
        }
    )


def _same_content(a: Report, b: Report) -> bool:
    return a.model_dump(exclude={"raw_sha256"}) == b.model_dump(exclude={"raw_sha256"})


def normalise_payload(
    connector: Connector, body: bytes, raw_sha256: str, fetched_at: dt.datetime | None = None
) -> tuple[list[Report], list[QuarantineItem], int]:
    """Reports and quarantined items of one payload (pure: no database), plus the skipped count.

    Never raises for anything in the payload. Every report is validated once more after
    enrichment against the schema's bounds, with ``fetched_at`` as the reference for "too far in
    the future" (see ``biotracker.schema.models.Report``).
    """
    good: dict[str, Report] = {}
    bad: list[QuarantineItem] = []
    skipped = 0
    context = {"fetched_at": as_utc(fetched_at)} if fetched_at is not None else None

    def reject(stage: str, what: str, reason: str, excerpt: str = "") -> None:
        bad.append(
            QuarantineItem(
                source=connector.name,
                stage=stage,
                what=what,
                reason=reason,
                raw_sha256=raw_sha256,
                excerpt=excerpt,
            )
        )

    for index, item in enumerate(_items(connector, body)):
        if isinstance(item, BadRecord):
            reject("parse", item.what, item.reason, item.excerpt)
            continue
        if not isinstance(item, dict):
            reject(
                "parse", f"item {index}", f"item is a {type(item).__name__}, not an object", _excerpt(item)
            )
            continue
        line = item.get("_line")
        what = f"record {index}" + (f" ({line})" if isinstance(line, (int, str)) else "")
        try:
            report = connector.to_report(item)
            if report is None:
                skipped += 1
                continue
            report = enrich(report.model_copy(update={"raw_sha256": raw_sha256}))
            report = _date_fallback(connector, report, context["fetched_at"] if context else None)
            # model_copy does not validate: check the finished report against every bound.
            report = Report.model_validate(report.model_dump(), context=context)
            copies = per_country(report)  # a round-up naming several countries: one report each
        except Exception as exc:  # noqa: BLE001 (poison-pill isolation: every failure is quarantined)
            reject("normalise", what, failure_reason(exc), _excerpt(item))
            continue
        for each in copies:
            first = good.get(each.report_id)
            if first is None:
                good[each.report_id] = each
            elif not _same_content(first, each):
                reject(
                    "normalise",
                    what,
                    f"{each.report_id} appears twice in this payload with different content; the first "
                    "version is kept and this one is held here",
                    _excerpt(item),
                )
    return list(good.values()), bad, skipped


def _first_versions_kept(
    conn: Connection, connector: Connector, good: list[Report], raw_sha256: str
) -> tuple[list[Report], list[QuarantineItem]]:
    """For sources whose ids are final (``keep_first_version``), refuse a changed second version.

    A report id arriving again from another payload with different content is a conflict, not an
    update: the stored first version stays and the new one is quarantined with the reason.
    """
    if not connector.keep_first_version or not good:
        return good, []
    stored: dict[str, Report] = {}
    ids = [r.report_id for r in good]
    for start in range(0, len(ids), 500):
        query = select(reports).where(reports.c.report_id.in_(ids[start : start + 500]))
        for row in conn.execute(query).mappings():
            values = {k: v for k, v in row.items() if k in Report.model_fields} | {"tlp": Tlp(row["tlp"])}
            stored[row["report_id"]] = Report.model_construct(**values)
    keep: list[Report] = []
    held: list[QuarantineItem] = []
    for report in good:
        first = stored.get(report.report_id)
        if first is None or first.raw_sha256 == raw_sha256 or _same_content(first, report):
            keep.append(report)
            continue
        held.append(
            QuarantineItem(
                source=connector.name,
                stage="store",
                what=f"report {report.source_id}",
                reason=(
                    f"{report.report_id} was already received (payload {str(first.raw_sha256)[:12]}) with "
                    "different content; the first version is kept. Send a correction under a new "
                    "report id, or delete the first version on purpose"
                ),
                raw_sha256=raw_sha256,
                excerpt=report.model_dump_json(include={"title", "published_at", "tlp"})[:_EXCERPT],
            )
        )
    return keep, held


def _row_refused(report: Report, raw_sha256: str, exc: Exception) -> QuarantineItem:
    detail = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0][:300]
    return QuarantineItem(
        source=report.source,
        stage="store",
        what=f"report {report.source_id}",
        reason=f"the database refused the report: {detail}",
        raw_sha256=raw_sha256,
        excerpt=report.title[:_EXCERPT],
    )


def store_outcome(
    engine: Engine,
    connector: Connector,
    raw_sha256: str,
    good: list[Report],
    bad: list[QuarantineItem],
) -> tuple[list[Report], list[QuarantineItem]]:
    """Write reports and quarantine of one payload and mark it normalised; return what was stored.

    All in one transaction when the database accepts every row (the usual case). When it refuses
    one (a value the schema let through but this backend cannot store), each report is written
    in its own transaction and the refused ones are quarantined at stage "store", so one row never
    costs the others. A lost connection (``OperationalError``) is not a row's fault and raises.
    """
    with engine.connect() as conn:
        good, held = _first_versions_kept(conn, connector, good, raw_sha256)
    bad = [*bad, *held]
    try:
        with engine.begin() as conn:
            upsert(conn, reports, [report_row(r) for r in good])
            for item in bad:
                quarantine_item(conn, item)
            _mark_done(conn, connector, raw_sha256)
        return good, bad
    except OperationalError:
        raise
    except Exception as exc:  # noqa: BLE001 (a driver may raise TypeError/ValueError for one bad value)
        log.warning("%s: payload %s needs row-by-row storing: %s", connector.name, raw_sha256[:12], exc)
    stored: list[Report] = []
    for report in good:
        try:
            with engine.begin() as conn:
                upsert(conn, reports, [report_row(report)])
            stored.append(report)
        except OperationalError:
            raise
        except Exception as exc:  # noqa: BLE001 (poison-pill isolation: this row only)
            bad.append(_row_refused(report, raw_sha256, exc))
    for item in bad:
        try:
            with engine.begin() as conn:
                quarantine_item(conn, item)
        except OperationalError:
            raise
        except Exception as exc:  # noqa: BLE001 (a diagnostic that cannot be stored must not stop the run)
            log.error("%s: cannot quarantine %s (%s): %s", connector.name, item.what, item.reason, exc)
    with engine.begin() as conn:
        _mark_done(conn, connector, raw_sha256)
    return stored, bad


def _mark_done(conn: Connection, connector: Connector, raw_sha256: str) -> None:
    conn.execute(
        update(raw_payloads)
        .where(raw_payloads.c.sha256 == raw_sha256, raw_payloads.c.source == connector.name)
        .values(normalised_version=connector.parser_version)
    )


def normalise_pending(
    settings: Settings, engine: Engine, sources: list[str] | None = None, reprocess: bool = False
) -> NormaliseSummary:
    """Normalise every archived payload not yet read by its connector's current parser version."""
    classes = connector_classes()
    summary = NormaliseSummary()
    with engine.connect() as conn:
        query = select(
            raw_payloads.c.sha256,
            raw_payloads.c.source,
            raw_payloads.c.normalised_version,
            raw_payloads.c.fetched_at,
        )
        if sources:
            query = query.where(raw_payloads.c.source.in_(sources))
        pending = [
            row
            for row in conn.execute(query.order_by(raw_payloads.c.fetched_at, raw_payloads.c.sha256))
            if row.source in classes
            and (reprocess or row.normalised_version != classes[row.source].parser_version)
        ]
    for row in pending:
        connector = classes[row.source]()
        try:
            body = read_payload(settings.raw_dir, row.sha256)
        except RawPayloadMissing as exc:
            log.error("%s: %s", row.source, exc)
            missing = QuarantineItem(
                source=row.source,
                stage="normalise",
                what="payload",
                reason=f"{exc}; after restoring it run `biotracker normalise --reprocess`",
                raw_sha256=row.sha256,
            )
            store_outcome(engine, connector, row.sha256, [], [missing])  # done: never pending forever
            summary.quarantined += 1
            continue
        good, bad, skipped = normalise_payload(connector, body, row.sha256, row.fetched_at)
        good, bad = store_outcome(engine, connector, row.sha256, good, bad)
        summary.payloads += 1
        summary.reports += len(good)
        summary.report_ids.extend(r.report_id for r in good)
        summary.skipped += skipped
        summary.quarantined += len(bad)
        summary.by_source[row.source] = summary.by_source.get(row.source, 0) + len(good)
        log.info(
            "%s: payload %s -> %d reports, %d skipped, %d quarantined",
            row.source,
            row.sha256[:12],
            len(good),
            skipped,
            len(bad),
        )
    refresh_health_counts(engine)
    return summary


def refresh_health_counts(engine: Engine) -> None:
    """Per-source item and quarantine totals, recomputed from the tables (so re-runs agree)."""
    with engine.begin() as conn:
        items: dict[str, int] = dict(
            conn.execute(select(reports.c.source, func.count()).group_by(reports.c.source)).all()
        )
        held: dict[str, int] = dict(
            conn.execute(select(quarantine.c.source, func.count()).group_by(quarantine.c.source)).all()
        )
        for source in sorted(set(items) | set(held)):  # one lock order: concurrent runs never deadlock
            exists = conn.execute(
                select(source_health.c.source).where(source_health.c.source == source)
            ).first()
            values = {"items": items.get(source, 0), "quarantined": held.get(source, 0)}
            if exists:
                conn.execute(update(source_health).where(source_health.c.source == source).values(**values))
            else:
                upsert(conn, source_health, [{"source": source, "payloads": 0, "failures": 0, **values}])
