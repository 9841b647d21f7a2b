"""The stage chain, written once: ingest → normalise → build incidents → score → lens → alerts → rank → publish.

The demo (``biotracker.pipeline.run_demo``), the CLI commands (``biotracker.cli.pipeline``) and the
Airflow tasks (``biotracker.tasks``, one task per stage) all call the functions below, so the order of
the stages, their defaults and the way windows pass from one stage to the next exist in one place.

Windows, not "now": a run starts from the window it fetched (the DAG run's data interval, an asset
event, or the CLI's ``--start/--end``). Once its reports are normalised, :func:`plan_windows` derives
every later window from that fetch window and the data itself:

* ``day`` (the digest's day): the Monday after the newest stored report, but never after the fetch
  window's end. On replayed recordings that is the recordings' own "as of", so a scheduled chain on
  recordings lists the same alerts as the demo; in live use it is the run's day.
* ``reports`` (re-clustered into incidents, re-assessed by the lens): reports published from
  ``LATE_REPORTS`` before the fetch window to its end, because feeds publish late.
* ``scored`` (weeks scored and alerted on): from the week of ``reports.start`` to ``day``, but at most
  ``MAX_SCORED_WEEKS`` weeks (baselines still read the whole history).

:class:`ChainWindows` travels between Airflow DAGs in asset events' ``extra`` (``as_extra`` /
``from_extras``); several queued events merge into one covering window.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import Engine, func, select

from biotracker.config import Settings
from biotracker.db.tables import reports
from biotracker.errors import ConfigError, FetchError
from biotracker.schema import Window, as_utc

if TYPE_CHECKING:  # each stage imports its own module when it runs: an Airflow task pays only for its stage
    from biotracker.alerts.derive import AlertSummary
    from biotracker.alerts.refresh import ScopedChanges
    from biotracker.incidents.build import IncidentSummary
    from biotracker.ingest.run import Clock, FetchSummary
    from biotracker.normalise.run import NormaliseSummary
    from biotracker.outputs.publish import PublishResult
    from biotracker.scoring.lens import LensSummary
    from biotracker.scoring.relevance.rank import RankedAlert
    from biotracker.scoring.score import ScoreSummary

log = logging.getLogger(__name__)


class Stage(StrEnum):
    """The stages in the order they run (the Airflow task ids are these names)."""

    INGEST = "fetch_to_raw"
    NORMALISE = "normalise_reports"
    INCIDENTS = "build_incidents"
    SCORE = "score_window"
    LENS = "assess_incidents"
    ALERTS = "derive_alerts"
    RANK = "rank_alerts"
    PUBLISH = "publish_digest"


STAGES: tuple[Stage, ...] = tuple(Stage)

#: Reports published this long before a fetch window may still arrive in it (feeds publish late).
LATE_REPORTS = dt.timedelta(days=28)
#: A run scores and alerts on at most this many weeks before its day.
MAX_SCORED_WEEKS = 104


@dataclass(frozen=True)
class ChainWindows:
    """The windows of one run, from the fetch window to the digest day (see the module docstring)."""

    fetch: Window
    day: dt.date
    reports: Window
    scored: Window | None  # None: no week between the reports' start and the day

    def as_extra(self) -> dict[str, str | None]:
        """JSON for an asset event's ``extra`` (and for XCom)."""
        return {
            "fetch_start": self.fetch.start.isoformat(),
            "fetch_end": self.fetch.end.isoformat(),
            "day": self.day.isoformat(),
            "reports_start": self.reports.start.isoformat(),
            "reports_end": self.reports.end.isoformat(),
            "scored_start": self.scored.start.isoformat() if self.scored else None,
            "scored_end": self.scored.end.isoformat() if self.scored else None,
        }

    @classmethod
    def from_extra(cls, extra: Mapping[str, object]) -> ChainWindows:
        try:
            scored = (
                Window.parse(str(extra["scored_start"]), str(extra["scored_end"]))
                if extra.get("scored_start")
                else None
            )
            return cls(
                fetch=Window.parse(str(extra["fetch_start"]), str(extra["fetch_end"])),
                day=dt.date.fromisoformat(str(extra["day"])),
                reports=Window.parse(str(extra["reports_start"]), str(extra["reports_end"])),
                scored=scored,
            )
        except (KeyError, ValueError) as exc:
            raise ConfigError(
                f"asset event extra {dict(extra)!r} does not carry the chain's windows ({exc}); "
                "trigger the DAG from its upstream DAG or pass the windows as params"
            ) from exc

    @classmethod
    def from_extras(cls, extras: Iterable[Mapping[str, object]]) -> ChainWindows:
        """One run's windows covering every queued event's windows (the scheduler may batch several)."""
        many = [cls.from_extra(e) for e in extras]
        if not many:
            raise ConfigError("no asset event carries the chain's windows; trigger the upstream DAG")
        scored = [w.scored for w in many if w.scored is not None]
        return cls(
            fetch=_hull([w.fetch for w in many]),
            day=max(w.day for w in many),
            reports=_hull([w.reports for w in many]),
            scored=_hull(scored) if scored else None,
        )


def _hull(windows: list[Window]) -> Window:
    return Window(min(w.start for w in windows), max(w.end for w in windows))


def fetch_windows(extras: Iterable[Mapping[str, object]]) -> Window:
    """The fetch window covering every ``{"fetch_start", "fetch_end"}`` event extra."""
    windows = [Window.parse(str(e["fetch_start"]), str(e["fetch_end"])) for e in extras if "fetch_start" in e]
    if not windows:
        raise ConfigError("no asset event carries a fetch window; trigger ingest_feeds instead")
    return _hull(windows)


def _week_start(moment: dt.datetime | dt.date) -> dt.date:
    from biotracker.incidents.series import week_start

    return week_start(moment)


def latest_week_end(engine: Engine) -> dt.date | None:
    """Monday after the week of the newest published report: the natural "as of" of recordings."""
    with engine.connect() as conn:
        newest = conn.execute(select(func.max(reports.c.published_at))).scalar_one_or_none()
    if newest is None:
        return None
    return _week_start(as_utc(newest)) + dt.timedelta(days=7)


def plan_windows(engine: Engine, fetch: Window, day: dt.date | None = None) -> ChainWindows:
    """Every window after normalisation, from the fetch window and the stored reports."""
    if day is None:
        newest = latest_week_end(engine)
        day = min(newest, fetch.end.date()) if newest else fetch.end.date()
    end = max(fetch.end, as_utc(day))
    reports_window = Window(fetch.start - LATE_REPORTS, end)
    day_start = as_utc(day)
    scored_start = max(
        as_utc(_week_start(reports_window.start)), day_start - dt.timedelta(weeks=MAX_SCORED_WEEKS)
    )
    scored = Window(scored_start, day_start) if scored_start < day_start else None
    return ChainWindows(fetch=fetch, day=day, reports=reports_window, scored=scored)


# --- the stages, in order ------------------------------------------------------------------------


@dataclass
class IngestResult:
    fetched: list[FetchSummary] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def ingest(
    settings: Settings,
    engine: Engine,
    window: Window,
    sources: list[str] | None = None,
    clock: Clock | None = None,
) -> IngestResult:
    """Fetch every named source (default: all) in one process; a failing source is recorded and skipped.

    The Airflow DAG runs :func:`fetch_one` per source instead (one mapped task each).
    """
    from biotracker.ingest.registry import list_connectors
    from biotracker.ingest.run import fetch_to_raw, open_http, utc_now

    result = IngestResult()
    with open_http(settings) as client:
        for source in sources or list_connectors():
            try:
                result.fetched.append(
                    fetch_to_raw(source, window, settings, engine, client, clock or utc_now)
                )
            except FetchError as exc:
                log.error("%s failed: %s", source, exc)
                result.failed[source] = str(exc)
    return result


def fetch_one(settings: Settings, engine: Engine, source: str, window: Window) -> FetchSummary:
    """Fetch one source; a :class:`~biotracker.errors.FetchError` propagates (Airflow decides on retries)."""
    from biotracker.ingest.run import fetch_to_raw, open_http

    with open_http(settings) as client:
        return fetch_to_raw(source, window, settings, engine, client)


def normalise(
    settings: Settings, engine: Engine, sources: list[str] | None = None, reprocess: bool = False
) -> NormaliseSummary:
    from biotracker.normalise.run import normalise_pending

    return normalise_pending(settings, engine, sources, reprocess)


def incidents(
    engine: Engine, windows: ChainWindows, report_ids: Iterable[str] | None = None, *, full: bool = False
) -> tuple[IncidentSummary, ScopedChanges]:
    """Cluster the reports published in ``windows.reports`` (and those named) in every visibility scope.

    Returns the totals and, per scope, what changed: the hand-off every later stage takes.
    """
    from biotracker.alerts.refresh import build_scopes, total
    from biotracker.incidents.build import IncidentSummary

    ids = sorted(report_ids) if report_ids is not None else None
    by_scope, built = build_scopes(engine, published=windows.reports, report_ids=ids, full=full)
    return total(by_scope.values(), IncidentSummary()), built


def score(engine: Engine, windows: ChainWindows, built: ScopedChanges) -> ScoreSummary:
    """Signals of the series clustering touched, for the weeks of ``windows.scored``."""
    from biotracker.alerts.refresh import score_scopes, total
    from biotracker.scoring.score import ScoreSummary

    if not windows.scored:
        return ScoreSummary()
    return total(score_scopes(engine, windows.scored, built).values(), ScoreSummary())


def lens(engine: Engine, built: ScopedChanges) -> tuple[LensSummary, ScopedChanges]:
    """The risk lens over the incidents clustering touched; returns what the alerts stage takes."""
    from biotracker.alerts.refresh import assess_scopes, total
    from biotracker.scoring.lens import LensSummary

    by_scope, assessed = assess_scopes(engine, built)
    return total(by_scope.values(), LensSummary()), assessed


def alerts(engine: Engine, windows: ChainWindows, assessed: ScopedChanges) -> AlertSummary:
    """Alerts of the series the lens's changes touch, for the weeks of ``windows.scored``."""
    from biotracker.alerts.derive import AlertSummary
    from biotracker.alerts.refresh import derive_scopes, total

    if not windows.scored:
        return AlertSummary()
    return total(derive_scopes(engine, windows.scored, assessed).values(), AlertSummary())


def rank(settings: Settings, engine: Engine, alert_ids: Iterable[str]) -> list[RankedAlert]:
    """Relevance of the alerts just written (newest valid model, else the rule score)."""
    from biotracker.alerts.refresh import rank_scopes
    from biotracker.scoring.relevance.tasks import models_dir

    return rank_scopes(engine, models_dir(settings), list(alert_ids))


def publish(
    settings: Settings,
    engine: Engine,
    day: dt.date,
    *,
    lookback_days: int | None = None,
    send: bool = True,
) -> PublishResult:
    from biotracker.outputs.publish import publish_day

    return publish_day(engine, settings, day, lookback_days=lookback_days, send=send)


@dataclass
class ChainResult:
    windows: ChainWindows
    ingest: IngestResult
    normalise: NormaliseSummary
    incidents: IncidentSummary
    scoring: ScoreSummary
    lens: LensSummary
    alerts: AlertSummary
    ranked: list[RankedAlert]
    published: PublishResult


def run_chain(
    settings: Settings,
    engine: Engine,
    fetch: Window,
    *,
    day: dt.date | None = None,
    sources: list[str] | None = None,
    clock: Clock | None = None,
    lookback_days: int | None = None,
    send: bool = True,
) -> ChainResult:
    """Every stage in order for one fetch window, in one process (the demo and ``biotracker run``)."""
    fetched = ingest(settings, engine, fetch, sources, clock)
    normalised = normalise(settings, engine)
    windows = plan_windows(engine, fetch, day)
    log.info("chain windows: %s", windows.as_extra())
    built, changed = incidents(engine, windows, normalised.report_ids)
    scored = score(engine, windows, changed)
    assessed, lens_changes = lens(engine, changed)
    alerted = alerts(engine, windows, lens_changes)
    ranked = rank(settings, engine, alerted.alert_ids)
    published = publish(settings, engine, windows.day, lookback_days=lookback_days, send=send)
    return ChainResult(windows, fetched, normalised, built, scored, assessed, alerted, ranked, published)
