"""The whole chain as plain functions: what the CLI and the Airflow tasks call.

connectors -> raw archive -> normalise -> incidents -> scoring -> alerts -> digest. Each function
takes a window (never "now"), touches only what the window names, and is safe to re-run.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy import Engine, func, select

from biotracker.alerts.derive import AlertSummary
from biotracker.alerts.refresh import combined, refresh_derived
from biotracker.config import BUNDLED_RECORDINGS, Settings
from biotracker.db.engine import open_store, row_counts
from biotracker.db.tables import reports
from biotracker.errors import FetchError
from biotracker.incidents.build import IncidentSummary
from biotracker.incidents.series import week_start
from biotracker.ingest.registry import list_connectors
from biotracker.ingest.run import Clock, FetchSummary, fetch_to_raw, open_http, utc_now
from biotracker.normalise.run import NormaliseSummary, normalise_pending
from biotracker.outputs.digest import DigestFiles
from biotracker.outputs.publish import PublishResult, publish_day
from biotracker.schema import Window, as_utc
from biotracker.scoring.lens import LensSummary
from biotracker.scoring.relevance.tasks import models_dir
from biotracker.scoring.score import ScoreSummary

log = logging.getLogger(__name__)

#: The demo looks at everything the recordings hold.
DEMO_START = as_utc("2000-01-01")
DEMO_LOOKBACK_DAYS = 28
#: Weeks the demo scores and alerts on, ending at its digest day (baselines still use all history).
DEMO_SCORED_WEEKS = 104


@dataclass
class IngestResult:
    fetched: list[FetchSummary] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def ingest_sources(
    settings: Settings,
    engine: Engine,
    window: Window,
    sources: list[str] | None = None,
    clock: Clock = utc_now,
) -> IngestResult:
    """Fetch every named source (default: all); a failing source is recorded and skipped."""
    result = IngestResult()
    with open_http(settings) as client:
        for source in sources or list_connectors():
            try:
                result.fetched.append(fetch_to_raw(source, window, settings, engine, client, clock))
            except FetchError as exc:
                log.error("%s failed: %s", source, exc)
                result.failed[source] = str(exc)
    return result


def latest_week_end(engine: Engine) -> dt.date | None:
    """Monday after the week of the newest published report: the natural "as of" of recordings."""
    with engine.connect() as conn:
        newest = conn.execute(select(func.max(reports.c.published_at))).scalar_one_or_none()
    if newest is None:
        return None
    return week_start(as_utc(newest)) + dt.timedelta(days=7)


@dataclass
class DemoResult:
    ingest: IngestResult
    normalise: NormaliseSummary
    incidents: IncidentSummary
    scoring: ScoreSummary
    lens: LensSummary
    alerts: AlertSummary
    published: PublishResult
    row_counts: dict[str, int]

    @property
    def digest(self) -> DigestFiles:
        return self.published.digest


def run_demo(settings: Settings, as_of: dt.date | None = None, clock: Clock = utc_now) -> DemoResult:
    """Run the whole chain on the bundled recordings (replayed locally) and write the digest."""
    if settings.replay_dir is None:
        from dataclasses import replace

        settings = replace(settings, replay_dir=BUNDLED_RECORDINGS)
    engine = open_store(settings)
    end = as_utc(as_of) if as_of else as_utc(dt.date.today() + dt.timedelta(days=1))
    ingest = ingest_sources(
        settings, engine, Window(DEMO_START, max(end, DEMO_START + dt.timedelta(days=1))), clock=clock
    )
    normalised = normalise_pending(settings, engine)
    day = as_of or latest_week_end(engine) or dt.date.today()
    scored = Window(as_utc(day) - dt.timedelta(weeks=DEMO_SCORED_WEEKS), as_utc(day))
    runs = refresh_derived(engine, scored, models_dir(settings), full=True)
    incidents, scoring, lens, alerted = combined(runs)
    published = publish_day(engine, settings, day, lookback_days=DEMO_LOOKBACK_DAYS, send=False)
    return DemoResult(ingest, normalised, incidents, scoring, lens, alerted, published, row_counts(engine))
