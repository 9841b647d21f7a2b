"""Per-source health for operators: last success, last failure and why, items, quarantine, freshness.

Freshness is the age of the newest *new* payload a source produced (identical re-fetches do not
count), so a feed that answers 200 with the same bytes for days is caught: a source that yields
nothing new for longer than 3x its cadence is flagged "silent". The caller passes the moment to
judge at (stages never read the clock).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from sqlalchemy import Engine, func, select

from biotracker.db.tables import raw_payloads, source_health
from biotracker.ingest.registry import connector_classes
from biotracker.schema import as_utc

CADENCE = {"@hourly": dt.timedelta(hours=1), "@daily": dt.timedelta(days=1), "@weekly": dt.timedelta(days=7)}
SILENT_AFTER_CADENCES = 3


@dataclass(frozen=True)
class SourceStatus:
    source: str
    title: str
    kind: str
    tlp: str
    cadence: str
    state: str  # "ok" | "failing" | "silent" | "never fetched"
    last_fetch_at: dt.datetime | None
    last_success_at: dt.datetime | None
    last_failure_at: dt.datetime | None
    last_error: str | None
    last_new_payload_at: dt.datetime | None
    freshness: dt.timedelta | None
    payloads: int
    items: int
    quarantined: int
    failures: int

    @property
    def silent(self) -> bool:
        return self.state == "silent"

    def as_json(self) -> dict[str, object]:
        row = asdict(self)
        row["freshness_s"] = int(self.freshness.total_seconds()) if self.freshness is not None else None
        row["silent"] = self.silent
        del row["freshness"]
        return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in row.items()}


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return as_utc(value) if value is not None else None


def describe_age(age: dt.timedelta | None) -> str:
    if age is None:
        return "never"
    seconds = int(age.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def source_statuses(engine: Engine, at: dt.datetime) -> list[SourceStatus]:
    """Health of every registered source (and of any unregistered one with history), judged at ``at``."""
    at = as_utc(at)
    classes = connector_classes()
    with engine.connect() as conn:
        health = {r["source"]: dict(r) for r in conn.execute(select(source_health)).mappings()}
        newest = dict(
            conn.execute(
                select(raw_payloads.c.source, func.max(raw_payloads.c.fetched_at)).group_by(
                    raw_payloads.c.source
                )
            ).all()
        )
    statuses = []
    for source in sorted(set(classes) | set(health)):
        cls = classes.get(source)
        row = health.get(source, {})
        cadence = cls.cadence if cls else "@daily"
        last_success = _aware(row.get("last_success_at"))
        last_failure = _aware(row.get("last_failure_at"))
        last_new = _aware(newest.get(source))
        freshness = at - last_new if last_new else None
        if row.get("last_fetch_at") is None:
            state = "never fetched"
        elif last_failure and (last_success is None or last_failure >= last_success):
            state = "failing"
        elif freshness is None or freshness > SILENT_AFTER_CADENCES * CADENCE.get(cadence, CADENCE["@daily"]):
            state = "silent"
        else:
            state = "ok"
        statuses.append(
            SourceStatus(
                source=source,
                title=cls.title if cls else "(no longer registered)",
                kind=cls.kind.value if cls else "",
                tlp=str(cls.tlp) if cls else "",
                cadence=cadence,
                state=state,
                last_fetch_at=_aware(row.get("last_fetch_at")),
                last_success_at=last_success,
                last_failure_at=last_failure,
                last_error=row.get("last_error"),
                last_new_payload_at=last_new,
                freshness=freshness,
                payloads=int(row.get("payloads") or 0),
                items=int(row.get("items") or 0),
                quarantined=int(row.get("quarantined") or 0),
                failures=int(row.get("failures") or 0),
            )
        )
    return statuses
