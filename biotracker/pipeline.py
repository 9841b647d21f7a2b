"""The demo: the whole chain (``biotracker.chain``) on the bundled recordings, replayed locally.

The stages, their order and their windows live in ``biotracker.chain``; this module only says what
the demo fetches (everything the recordings hold) and how it reports back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from biotracker.alerts.derive import AlertSummary
from biotracker.chain import IngestResult, latest_week_end, run_chain
from biotracker.chain import ingest as ingest_sources
from biotracker.config import BUNDLED_RECORDINGS, Settings
from biotracker.db.engine import open_store, row_counts
from biotracker.incidents.build import IncidentSummary
from biotracker.ingest.run import Clock
from biotracker.normalise.run import NormaliseSummary
from biotracker.outputs.digest import DigestFiles
from biotracker.outputs.publish import PublishResult
from biotracker.schema import Window, as_utc
from biotracker.scoring.lens import LensSummary
from biotracker.scoring.score import ScoreSummary

__all__ = ["DEMO_LOOKBACK_DAYS", "DEMO_START", "DemoResult", "ingest_sources", "latest_week_end", "run_demo"]

#: The demo looks at everything the recordings hold.
DEMO_START = as_utc("2000-01-01")
DEMO_LOOKBACK_DAYS = 28


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


def run_demo(settings: Settings, as_of: dt.date | None = None, clock: Clock | None = None) -> DemoResult:
    """Run the whole chain on the bundled recordings (replayed locally) and write the digest (not mailed)."""
    if settings.replay_dir is None:
        settings = replace(settings, replay_dir=BUNDLED_RECORDINGS)
    engine = open_store(settings)
    end = as_utc(as_of) if as_of else as_utc(dt.date.today() + dt.timedelta(days=1))
    fetch = Window(DEMO_START, max(end, DEMO_START + dt.timedelta(days=1)))
    run = run_chain(
        settings, engine, fetch, day=as_of, clock=clock, lookback_days=DEMO_LOOKBACK_DAYS, send=False
    )
    return DemoResult(
        run.ingest,
        run.normalise,
        run.incidents,
        run.scoring,
        run.lens,
        run.alerts,
        run.published,
        row_counts(engine),
    )
