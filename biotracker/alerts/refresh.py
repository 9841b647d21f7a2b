"""Every derived table, for every visibility scope, from what changed: the stages' hand-off in one place.

``refresh_derived`` runs clustering → scoring → risk lens → alerts → ranking once per
materialised scope (``incidents/scopes.py``), each stage taking the ``Changes`` of the stage before
it, so a day's run costs what the day's reports can change, not what the store holds. A scope seen
for the first time (the first GREEN report arrives) is built in full; ``full=True`` is
``biotracker rebuild``. The chain module (DAG tasks, CLI, demo) calls this for its derive steps.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, delete

from biotracker.alerts.derive import AlertSummary, derive_alerts
from biotracker.db.tables import signals
from biotracker.incidents.build import IncidentSummary, build_incidents
from biotracker.incidents.scopes import (
    Scope,
    intake_sources,
    materialised_scopes,
    present_classes,
    scope_has_rows,
)
from biotracker.schema import SourceKind, Window
from biotracker.scoring.lens import LensSummary, assess_incidents
from biotracker.scoring.relevance import rank_alerts
from biotracker.scoring.score import ScoreSummary, score_window

log = logging.getLogger(__name__)


@dataclass
class ScopeRun:
    """What each stage of one scope changed."""

    scope: Scope
    full: bool
    incidents: IncidentSummary
    scoring: ScoreSummary
    lens: LensSummary
    alerts: AlertSummary
    ranked: int

    def summary(self) -> dict[str, object]:
        return {
            "scope": self.scope.key,
            "full": self.full,
            "incidents": self.incidents.changes.summary(),
            "signals": self.scoring.signals,
            "assessed": self.lens.incidents,
            "alerts": len(self.alerts.alert_ids),
            "withdrawn": len(self.alerts.removed_ids),
            "ranked": self.ranked,
        }


def refresh_derived(
    engine: Engine,
    scored: Window,
    models_dir: Path,
    *,
    published: Window | None = None,
    report_ids: Collection[str] | None = None,
    full: bool = False,
    source_kinds: Mapping[str, SourceKind] | None = None,
    timings: dict[str, float] | None = None,
) -> list[ScopeRun]:
    """Bring every scope's derived rows up to date with the reports published in ``published`` and
    those named in ``report_ids`` (new or re-normalised); signals and alerts for weeks in ``scored``.

    ``full`` recomputes everything (``biotracker rebuild``): each scope's incidents from all its
    reports, its signals, assessments and the alerts of ``scored`` (analysts' statuses are kept).
    ``timings`` (stage name -> seconds, summed over scopes) is filled in when given.
    """
    clock = _Clock(timings)
    intake = intake_sources(source_kinds)
    with clock("incidents"), engine.connect() as conn:
        scopes = materialised_scopes(present_classes(conn, intake))
        fresh = {s for s in scopes if not scope_has_rows(conn, s)}
    runs = []
    for scope in scopes:
        whole = full or scope in fresh
        if not whole and published is None and not report_ids:
            continue
        with clock("incidents"):
            if whole:
                with engine.begin() as conn:
                    conn.execute(delete(signals).where(signals.c.scope == scope.key))
                built = build_incidents(engine, scope=scope, source_kinds=source_kinds)
            else:
                built = build_incidents(
                    engine, published, report_ids=report_ids, scope=scope, source_kinds=source_kinds
                )
        if built.changes.empty:
            continue
        with clock("score"):
            scoring = score_window(engine, scored, scope=scope, changes=built.changes)
        with clock("lens"):
            lens = assess_incidents(engine, scope=scope, changes=built.changes)
        with clock("alerts"):
            alerted = derive_alerts(engine, scored, scope=scope, changes=lens.changes)
        with clock("rank"):
            ranked = rank_alerts(engine, models_dir, alert_ids=alerted.alert_ids) if alerted.alert_ids else []
        runs.append(ScopeRun(scope, whole, built, scoring, lens, alerted, len(ranked)))
        log.info("derived [%s]: %s", scope, runs[-1].summary())
    return runs


class _Clock:
    """Adds each ``with clock(stage):`` block's wall time to ``timings[stage]`` (no-op without timings)."""

    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings = timings
        self.stage = ""
        self.started = 0.0

    def __call__(self, stage: str) -> _Clock:
        self.stage = stage
        return self

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        if self.timings is not None:
            self.timings[self.stage] = self.timings.get(self.stage, 0.0) + time.perf_counter() - self.started


def combined(runs: list[ScopeRun]) -> tuple[IncidentSummary, ScoreSummary, LensSummary, AlertSummary]:
    """Every scope's summaries added up (what the demo reports)."""
    incidents, scoring, lens, alerted = IncidentSummary(), ScoreSummary(), LensSummary(), AlertSummary()
    for run in runs:
        for total, part in (
            (incidents, run.incidents),
            (scoring, run.scoring),
            (lens, run.lens),
            (alerted, run.alerts),
        ):
            for name, value in vars(part).items():
                if isinstance(value, int) and not isinstance(value, bool):
                    setattr(total, name, getattr(total, name) + value)
        for tier, n in run.alerts.by_tier.items():
            alerted.by_tier[tier] = alerted.by_tier.get(tier, 0) + n
        alerted.alert_ids += run.alerts.alert_ids
    if runs:
        incidents.changes = runs[-1].incidents.changes
    return incidents, scoring, lens, alerted
