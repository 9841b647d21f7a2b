"""Stage 2: turn archived payloads into normalised reports (``normalise_pending``).

Reads payloads back from the raw archive, so it can be re-run at any time (``reprocess=True``).
Each item that fails goes to quarantine with its stage and reason while the rest of the payload
lands; reports are upserted by ``report_id``, so re-runs never duplicate.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from pydantic import ValidationError
from sqlalchemy import Engine, func, select, update

from biotracker.config import Settings
from biotracker.db.tables import quarantine, raw_payloads, reports, source_health
from biotracker.db.upsert import upsert
from biotracker.errors import BiotrackerError, RecordError
from biotracker.ingest.connector import BadRecord, Connector
from biotracker.ingest.registry import connector_classes
from biotracker.normalise.enrich import enrich
from biotracker.raw.archive import read_payload
from biotracker.raw.quarantine import quarantine_item
from biotracker.schema import QuarantineItem, Report

log = logging.getLogger(__name__)


@dataclass
class NormaliseSummary:
    payloads: int = 0
    reports: int = 0
    skipped: int = 0
    quarantined: int = 0
    by_source: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        return asdict(self)


def report_row(report: Report) -> dict[str, object]:
    return report.model_dump(mode="python") | {"report_id": report.report_id, "tlp": report.tlp.value}


def _validation_reason(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}" for e in exc.errors())


def normalise_payload(
    connector: Connector, body: bytes, raw_sha256: str
) -> tuple[list[Report], list[QuarantineItem], int]:
    """Reports and quarantined items of one payload (pure: no database), plus the skipped count."""
    good: dict[str, Report] = {}
    bad: list[QuarantineItem] = []
    skipped = 0

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

    try:
        items: Iterable[dict | BadRecord] = list(connector.records(body))
    except BiotrackerError as exc:
        reject("parse", "payload", str(exc), body[:500].decode("utf-8", "replace"))
        return [], bad, 0
    for index, item in enumerate(items):
        if isinstance(item, BadRecord):
            reject("parse", item.what, item.reason, item.excerpt)
            continue
        what = f"record {index}" + (f" ({item['_line']})" if "_line" in item else "")
        try:
            report = connector.to_report(item)
            if report is None:
                skipped += 1
                continue
            report = enrich(report.model_copy(update={"raw_sha256": raw_sha256}))
        except ValidationError as exc:
            reject("normalise", what, _validation_reason(exc), repr(item)[:500])
            continue
        except (RecordError, ValueError, KeyError, TypeError) as exc:
            reason = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            reject("normalise", what, reason, repr(item)[:500])
            continue
        good[report.report_id] = report  # a repeated item within one payload: the last one wins
    return list(good.values()), bad, skipped


def normalise_pending(
    settings: Settings, engine: Engine, sources: list[str] | None = None, reprocess: bool = False
) -> NormaliseSummary:
    """Normalise every archived payload not yet read by its connector's current parser version."""
    classes = connector_classes()
    summary = NormaliseSummary()
    with engine.connect() as conn:
        query = select(raw_payloads.c.sha256, raw_payloads.c.source, raw_payloads.c.normalised_version)
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
        body = read_payload(settings.raw_dir, row.sha256)
        good, bad, skipped = normalise_payload(connector, body, row.sha256)
        with engine.begin() as conn:
            upsert(conn, reports, [report_row(r) for r in good])
            for item in bad:
                quarantine_item(conn, item)
            conn.execute(
                update(raw_payloads)
                .where(raw_payloads.c.sha256 == row.sha256, raw_payloads.c.source == row.source)
                .values(normalised_version=connector.parser_version)
            )
        summary.payloads += 1
        summary.reports += len(good)
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
        items = dict(conn.execute(select(reports.c.source, func.count()).group_by(reports.c.source)).all())
        held = dict(
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
