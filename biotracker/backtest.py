"""Replay a dated stream of reports day by day through the real chain: ``biotracker backtest``.

An early-warning system is judged by what it said *before* the official confirmation. The backtest
rebuilds that: a throwaway store, and for each day from start to end only the items dated on or
before that day exist; each day runs the daily stages (normalise, incidents, series and detectors,
risk lens, tier rules) with that day's windows, and every alert that appears or climbs a tier that
day becomes one event. Nothing reads a clock, so two runs give the same events.

The day loop is ``run_day``: a plain sequence of stage calls with the windows of one day, so the
chain can be swapped in as one call later.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path

from sqlalchemy import Engine, select

from biotracker import chain
from biotracker.config import Settings
from biotracker.db.engine import open_store
from biotracker.db.tables import alerts, reports
from biotracker.db.upsert import upsert
from biotracker.errors import ConfigError
from biotracker.incidents.series import week_start
from biotracker.ingest.html_text import html_to_text
from biotracker.normalise.enrich import enrich
from biotracker.normalise.fanout import per_country
from biotracker.normalise.run import report_row
from biotracker.normalise.vocab import load_vocabulary
from biotracker.outputs.audience import INTERNAL, registered_source_kinds
from biotracker.outputs.records import reading_scope
from biotracker.schema import AlertTier, Report, Tlp, Window, as_utc

#: The stream's default source: the contract's streams are ProMED post lists.
DEFAULT_SOURCE = "promed"
_DAY = dt.timedelta(days=1)


class AlertEventKind(StrEnum):
    RAISED = "raised"
    ESCALATED = "escalated"


@dataclass(frozen=True)
class StreamItem:
    """One usable row of the input stream."""

    line: int
    item_id: str
    day: dt.date
    title: str
    text: str = ""
    link: str | None = None
    source: str = DEFAULT_SOURCE


@dataclass(frozen=True)
class MalformedRow:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}; row skipped"


@dataclass(frozen=True)
class AlertEvent:
    """One line of ``alerts.jsonl``: an alert raised or escalated on ``day``."""

    event: AlertEventKind
    day: dt.date
    alert_id: str
    disease: str | None
    disease_id: str | None
    country_iso3: str | None
    tier: AlertTier
    rule: str
    reasons: tuple[str, ...]

    def to_json(self) -> str:
        row = asdict(self) | {
            "event": self.event.value,
            "day": self.day.isoformat(),
            "tier": self.tier.value,
            "reasons": list(self.reasons),
        }
        return json.dumps(row, ensure_ascii=False, sort_keys=False)


@dataclass(frozen=True)
class Sighting:
    """A normalised report as the naive baseline sees it: a disease in a country on a day."""

    day: dt.date
    disease: str
    country_iso3: str
    report_id: str


@dataclass
class BacktestResult:
    events: list[AlertEvent] = field(default_factory=list)
    sightings: list[Sighting] = field(default_factory=list)
    days: int = 0
    items: int = 0


# -- the stream ---------------------------------------------------------------------------------


def read_stream(path: Path) -> tuple[list[StreamItem], list[MalformedRow]]:
    """Usable rows (in file order) and the malformed ones with their line numbers.

    Columns: ``id`` (or ProMED's ``post_id``), ``date`` (ISO), ``title``; optional ``text``,
    ``link``, ``source``. A row with a bad date or an empty title is reported, not fatal.
    """
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise ConfigError(f"cannot read the stream {path}: {exc}; pass an existing CSV file") from exc
    with handle:
        reader = csv.DictReader(handle)
        columns = set(reader.fieldnames or ())
        id_column = "id" if "id" in columns else "post_id" if "post_id" in columns else None
        missing = [c for c in ("date", "title") if c not in columns]
        if id_column is None or missing:
            raise ConfigError(
                f"{path}: the stream needs columns id (or post_id), date and title; it has {sorted(columns)}"
            )
        return _parse_rows(reader, id_column)


def _parse_rows(reader: csv.DictReader, id_column: str) -> tuple[list[StreamItem], list[MalformedRow]]:
    good: list[StreamItem] = []
    bad: list[MalformedRow] = []
    seen: set[tuple[str, str]] = set()
    for row in reader:
        line = reader.line_num
        item_id = (row.get(id_column) or "").strip()
        raw_date = (row.get("date") or "").strip()
        title = html_to_text(row.get("title") or "").strip()
        try:
            day = dt.date.fromisoformat(raw_date[:10])
        except ValueError:
            bad.append(MalformedRow(line, f"bad date {raw_date!r} (want YYYY-MM-DD)"))
            continue
        if not title:
            bad.append(MalformedRow(line, "empty title"))
            continue
        if not item_id:
            bad.append(MalformedRow(line, "empty id"))
            continue
        source = (row.get("source") or "").strip() or DEFAULT_SOURCE
        if (source, item_id) in seen:
            bad.append(MalformedRow(line, f"repeated id {item_id!r}"))
            continue
        seen.add((source, item_id))
        good.append(
            StreamItem(
                line=line,
                item_id=item_id,
                day=day,
                title=title,
                text=html_to_text(row.get("text") or "").strip(),
                link=(row.get("link") or "").strip() or None,
                source=source,
            )
        )
    return good, bad


def to_reports(item: StreamItem) -> list[Report]:
    """The normalised reports of a stream item: the connector's fields, then the same ``enrich``
    every connector's reports go through in ``normalise_payload``, then one report per country
    a round-up names (``normalise.fanout``)."""
    when = as_utc(item.day)
    report = Report(
        source=item.source,
        source_id=item.item_id,
        url=item.link,
        title=item.title,
        text=item.text,
        published_at=when,
        observed_at=when,
        language="en",
        tlp=Tlp.CLEAR,
    )
    return per_country(enrich(report))


# -- one day ------------------------------------------------------------------------------------


def run_day(engine: Engine, day: dt.date, new_reports: list[Report]) -> None:
    """The daily chain for ``day`` with that day's windows: store the day's reports, re-cluster
    their neighbourhood, score the current (partial) week, assess this week's incidents and those
    today's reports joined, and derive this week's alerts."""
    if new_reports:
        with engine.begin() as conn:
            upsert(conn, reports, [report_row(r) for r in new_reports])
    today = Window(as_utc(day), as_utc(day + _DAY))
    this_week = Window(as_utc(week_start(day)), today.end)
    windows = chain.ChainWindows(fetch=today, day=day + _DAY, reports=today, scored=this_week)
    _, clustered = chain.incidents(engine, windows, [r.report_id for r in new_reports])
    chain.score(engine, windows, clustered)
    _, assessed = chain.lens(engine, clustered)
    chain.alerts(engine, windows, assessed)


# -- the loop -----------------------------------------------------------------------------------


def _alerts_of_week(engine: Engine, day: dt.date) -> dict[str, dict]:
    """Alerts whose episode reaches ``day``'s week: the only ones ``derive_alerts`` can have
    raised or changed for that day."""
    with engine.connect() as conn:
        return {
            r["alert_id"]: dict(r)
            for r in conn.execute(
                select(
                    alerts.c.alert_id,
                    alerts.c.tier,
                    alerts.c.rule,
                    alerts.c.reasons,
                    alerts.c.disease,
                    alerts.c.country_iso3,
                ).where(
                    alerts.c.last_period >= week_start(day),
                    alerts.c.scope == reading_scope(engine, INTERNAL, registered_source_kinds()).key,
                )
            ).mappings()
        }


def _disease_ids() -> dict[str, str | None]:
    vocab = load_vocabulary()
    return {c.name: c.disease_id for c in vocab.concepts.values()}


def _events(day: dt.date, before: dict[str, dict], after: dict[str, dict]) -> list[AlertEvent]:
    ids = _disease_ids()
    out = []
    for alert_id in sorted(after):
        row = after[alert_id]
        tier = AlertTier(row["tier"])
        old = before.get(alert_id)
        if old is None:
            kind = AlertEventKind.RAISED
        elif tier.rank < AlertTier(old["tier"]).rank:
            kind = AlertEventKind.ESCALATED
        else:
            continue
        out.append(
            AlertEvent(
                event=kind,
                day=day,
                alert_id=alert_id,
                disease=row["disease"],
                disease_id=ids.get(row["disease"] or ""),
                country_iso3=row["country_iso3"],
                tier=tier,
                rule=row["rule"] or "",
                reasons=tuple(row["reasons"] or ()),
            )
        )
    return sorted(out, key=lambda e: (e.tier.rank, e.alert_id))


def _days(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    day = first
    while day <= last:
        yield day
        day += _DAY


def run_backtest(
    items: Iterable[StreamItem],
    start: dt.date | None = None,
    end: dt.date | None = None,
    store_dir: Path | None = None,
) -> BacktestResult:
    """Alert events of the chain replayed day by day over ``items`` from ``start`` to ``end``.

    Items dated before ``start`` are loaded on the first day (they are history the system would
    have had); items after ``end`` never exist. ``store_dir`` keeps the store for inspection; by
    default it lives in a temporary directory removed afterwards.
    """
    ordered = sorted(items, key=lambda i: (i.day, i.source, i.item_id))
    if not ordered:
        return BacktestResult()
    first = start or ordered[0].day
    last = end or ordered[-1].day
    if last < first:
        raise ConfigError(f"--end {last} is before --start {first}; give an end on or after the start")
    if store_dir is not None:
        return _replay(ordered, first, last, store_dir)
    with tempfile.TemporaryDirectory(prefix="biotracker-backtest-") as tmp:
        return _replay(ordered, first, last, Path(tmp))


def _replay(ordered: list[StreamItem], first: dt.date, last: dt.date, home: Path) -> BacktestResult:
    engine = open_store(Settings(home=home, database_url=f"sqlite:///{home / 'backtest.db'}"))
    result = BacktestResult()
    by_day: dict[dt.date, list[StreamItem]] = {}
    for item in ordered:
        if item.day <= last:
            by_day.setdefault(max(item.day, first), []).append(item)
    state: dict[str, dict] = {}
    try:
        for day in _days(first, last):
            new = [r for i in by_day.get(day, []) for r in to_reports(i)]
            result.items += len(by_day.get(day, []))
            result.sightings.extend(
                Sighting(r.published_at.date(), r.disease, r.country_iso3, r.report_id)  # type: ignore[union-attr]
                for r in new
                if r.disease and r.country_iso3
            )
            run_day(engine, day, new)
            touched = _alerts_of_week(engine, day)
            result.events.extend(_events(day, state, touched))
            state.update(touched)
            result.days += 1
    finally:
        engine.dispose()
    return result


def write_events(events: Iterable[AlertEvent], path: Path) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as fh:
        for event in events:
            fh.write(event.to_json() + "\n")
            count += 1
    return count
