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
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine, delete

from biotracker.alerts.derive import AlertSummary, derive_alerts
from biotracker.db.tables import signals
from biotracker.incidents.build import IncidentSummary, ReadCache, build_incidents
from biotracker.incidents.changes import Changes
from biotracker.incidents.scopes import (
    Scope,
    intake_sources,
    materialised_with_organisations,
    scope_has_rows,
    scope_named,
)
from biotracker.schema import SourceKind, Window
from biotracker.scoring.lens import LensSummary, assess_incidents
from biotracker.scoring.score import ScoreSummary, score_window
from biotracker.storage import StoragePath

if TYPE_CHECKING:  # the relevance model pulls in scikit-learn and skops (seconds): loaded when ranking
    from biotracker.scoring.relevance import RankedAlert

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScopedChanges:
    """What a stage changed in each visibility scope: the hand-off from one stage to the next.

    Scopes are independent, so each stage runs over every scope before the next stage starts; that
    lets the DAG run one task per stage and pass this (as JSON, via XCom) to the next task.
    """

    by_scope: Mapping[str, Changes] = field(default_factory=dict)
    #: scopes built in full this run (first seen, or ``biotracker rebuild``)
    full: frozenset[str] = frozenset()

    def items(self) -> list[tuple[Scope, Changes]]:
        return [(scope_named(key), changes) for key, changes in self.by_scope.items()]

    def to_json(self) -> dict[str, object]:
        return {
            "by_scope": {key: changes.to_json() for key, changes in self.by_scope.items()},
            "full": sorted(self.full),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ScopedChanges:
        if not data:
            return cls()
        return cls(
            {key: Changes.from_json(value) for key, value in dict(data.get("by_scope") or {}).items()},
            frozenset(data.get("full") or ()),
        )


def build_scopes(
    engine: Engine,
    *,
    published: Window | None = None,
    report_ids: Collection[str] | None = None,
    full: bool = False,
    source_kinds: Mapping[str, SourceKind] | None = None,
    community_org: str | None = None,
) -> tuple[dict[str, IncidentSummary], ScopedChanges]:
    """Clustering in every materialised scope for the reports published in ``published`` and those
    named in ``report_ids``; a scope seen for the first time, or every scope when ``full``, is built
    from all its reports (its signals are dropped first: they are recomputed from scratch).
    Organisation scopes (``org:<name>``) are among them; ``community_org`` default: the configured one."""
    intake = intake_sources(source_kinds)
    if community_org is None:
        from biotracker.config import load_settings

        community_org = load_settings().community_org
    with engine.connect() as conn:
        scopes = materialised_with_organisations(conn, intake, community_org)
        fresh = {s for s in scopes if not scope_has_rows(conn, s)}
    summaries: dict[str, IncidentSummary] = {}
    changed: dict[str, Changes] = {}
    whole_scopes: set[str] = set()
    cache = ReadCache()  # the day's neighbourhood, read once for every scope
    for scope in scopes:
        whole = full or scope in fresh
        if not whole and published is None and not report_ids:
            continue
        if whole:
            with engine.begin() as conn:
                conn.execute(delete(signals).where(signals.c.scope == scope.key))
            built = build_incidents(engine, scope=scope, source_kinds=source_kinds)
            whole_scopes.add(scope.key)
        else:
            built = build_incidents(
                engine, published, report_ids=report_ids, scope=scope, source_kinds=source_kinds, cache=cache
            )
        summaries[scope.key] = built
        if not built.changes.empty:
            changed[scope.key] = built.changes
    return summaries, ScopedChanges(changed, frozenset(whole_scopes))


def score_scopes(engine: Engine, scored: Window, built: ScopedChanges) -> dict[str, ScoreSummary]:
    """Signals of the series each scope's clustering touched, for weeks in ``scored``."""
    return {scope.key: score_window(engine, scored, scope=scope, changes=c) for scope, c in built.items()}


def assess_scopes(engine: Engine, built: ScopedChanges) -> tuple[dict[str, LensSummary], ScopedChanges]:
    """The risk lens for the incidents each scope's clustering touched; returns what alerts need."""
    summaries = {scope.key: assess_incidents(engine, scope=scope, changes=c) for scope, c in built.items()}
    changed = {key: s.changes for key, s in summaries.items() if s.changes is not None}
    return summaries, ScopedChanges(changed, built.full)


def derive_scopes(engine: Engine, scored: Window, assessed: ScopedChanges) -> dict[str, AlertSummary]:
    """Alerts of the series the lens's changes touch, per scope, for weeks in ``scored``."""
    return {scope.key: derive_alerts(engine, scored, scope=scope, changes=c) for scope, c in assessed.items()}


def rank_scopes(engine: Engine, models_dir: StoragePath, alert_ids: Collection[str]) -> list[RankedAlert]:
    """Relevance of the alerts just written (every scope's; ids are unique across scopes)."""
    if not alert_ids:
        return []
    from biotracker.scoring.relevance import rank_alerts

    return rank_alerts(engine, models_dir, alert_ids=sorted(alert_ids))


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
    models_dir: StoragePath,
    *,
    published: Window | None = None,
    report_ids: Collection[str] | None = None,
    full: bool = False,
    source_kinds: Mapping[str, SourceKind] | None = None,
    timings: dict[str, float] | None = None,
    cpu_timings: dict[str, float] | None = None,
) -> list[ScopeRun]:
    """Bring every scope's derived rows up to date with the reports published in ``published`` and
    those named in ``report_ids`` (new or re-normalised); signals and alerts for weeks in ``scored``.

    ``full`` recomputes everything (``biotracker rebuild``): each scope's incidents from all its
    reports, its signals, assessments and the alerts of ``scored`` (analysts' statuses are kept).
    ``timings`` (stage name -> wall seconds, summed over scopes) and ``cpu_timings`` (this process's
    CPU seconds: not a database server's) are filled in when given. The stages
    are the functions above, in the order the chain (``biotracker/chain.py``) runs them as tasks.
    """
    clock = _Clock(timings, cpu_timings)
    with clock("incidents"):
        built_by, built = build_scopes(
            engine, published=published, report_ids=report_ids, full=full, source_kinds=source_kinds
        )
    with clock("score"):
        scoring = score_scopes(engine, scored, built)
    with clock("lens"):
        lens, assessed = assess_scopes(engine, built)
    with clock("alerts"):
        alerted = derive_scopes(engine, scored, assessed)
    with clock("rank"):
        ranked = rank_scopes(engine, models_dir, [a for s in alerted.values() for a in s.alert_ids])
    per_scope = Counter(r.alert_id for r in ranked)
    runs = []
    for key in built.by_scope:
        scope = scope_named(key)
        ids = alerted.get(key, AlertSummary()).alert_ids
        runs.append(
            ScopeRun(
                scope,
                key in built.full,
                built_by[key],
                scoring.get(key, ScoreSummary()),
                lens.get(key, LensSummary()),
                alerted.get(key, AlertSummary()),
                sum(per_scope[a] for a in ids),
            )
        )
        log.info("derived [%s]: %s", scope, runs[-1].summary())
    return runs


class _Clock:
    """Adds each ``with clock(stage):`` block's wall time to ``timings[stage]`` and its process CPU
    time to ``cpu[stage]`` (no-op without them)."""

    def __init__(self, timings: dict[str, float] | None, cpu: dict[str, float] | None = None) -> None:
        self.timings = timings
        self.cpu = cpu
        self.stage = ""
        self.started = 0.0
        self.cpu_started = 0.0

    def __call__(self, stage: str) -> _Clock:
        self.stage = stage
        return self

    def __enter__(self) -> None:
        self.started = time.perf_counter()
        self.cpu_started = time.process_time()

    def __exit__(self, *exc: object) -> None:
        if self.timings is not None:
            self.timings[self.stage] = self.timings.get(self.stage, 0.0) + time.perf_counter() - self.started
        if self.cpu is not None:
            self.cpu[self.stage] = self.cpu.get(self.stage, 0.0) + time.process_time() - self.cpu_started


Summary = TypeVar("Summary", IncidentSummary, ScoreSummary, LensSummary, AlertSummary)


def total(parts: Iterable[Summary], into: Summary) -> Summary:
    """Every scope's summary of one stage added up: counts summed, tiers and alert ids merged."""
    for part in parts:
        for name, value in vars(part).items():
            if isinstance(value, int) and not isinstance(value, bool):
                setattr(into, name, getattr(into, name) + value)
        if isinstance(part, AlertSummary) and isinstance(into, AlertSummary):
            for tier, n in part.by_tier.items():
                into.by_tier[tier] = into.by_tier.get(tier, 0) + n
            into.alert_ids += part.alert_ids
            into.removed_ids += part.removed_ids
    return into


def combined(runs: list[ScopeRun]) -> tuple[IncidentSummary, ScoreSummary, LensSummary, AlertSummary]:
    """Every scope's summaries added up (what ``biotracker score`` reports)."""
    return (
        total((r.incidents for r in runs), IncidentSummary()),
        total((r.scoring for r in runs), ScoreSummary()),
        total((r.lens for r in runs), LensSummary()),
        total((r.alerts for r in runs), AlertSummary()),
    )
