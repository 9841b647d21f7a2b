"""What each Airflow task calls: plain functions taking plain values, returning small JSON summaries.

They read settings from the environment (``BIOTRACKER_*``) because an Airflow worker has nothing
else; the DAG files under ``dags/`` only wire these together. A test can call every one directly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from biotracker.config import load_settings
from biotracker.db.engine import open_store
from biotracker.schema import Window, as_utc


def resolve_window(
    params: Mapping[str, Any] | None,
    interval_start: dt.datetime | None,
    interval_end: dt.datetime | None,
    default_days: int,
) -> Window:
    """The run's window: ``params.start``/``params.end`` when given, else the data interval.

    Asset-triggered and manual runs may have an empty interval; then the window is the
    ``default_days`` before its end.
    """
    params = params or {}
    end = as_utc(params["end"]) if params.get("end") else as_utc(interval_end or dt.datetime.now(dt.UTC))
    if params.get("start"):
        start = as_utc(params["start"])
    elif interval_start is not None and as_utc(interval_start) < end:
        start = as_utc(interval_start)
    else:
        start = end - dt.timedelta(days=default_days)
    return Window(start, end)


def list_sources() -> list[str]:
    from biotracker.ingest.registry import list_connectors

    return list_connectors()


def fetch_to_raw(source: str, start: str, end: str) -> dict[str, object]:
    """Fetch one feed for ``[start, end)`` into the raw archive (replaying if BIOTRACKER_REPLAY_DIR)."""
    from biotracker.ingest.run import fetch_to_raw as fetch
    from biotracker.ingest.run import open_http

    settings = load_settings()
    engine = open_store(settings)
    with open_http(settings) as client:
        result = fetch(source, Window.parse(start, end), settings, engine, client)
    return {k: v for k, v in result.summary().items() if k != "payloads"} | {"payloads": len(result.payloads)}


def normalise_reports() -> dict[str, object]:
    """Normalise pending payloads (incidents are built per visibility scope by ``score_signals``)."""
    from biotracker.normalise.run import normalise_pending

    settings = load_settings()
    engine = open_store(settings)
    return normalise_pending(settings, engine).summary()


def score_signals(start: str, end: str) -> dict[str, object]:
    """Score weekly series for weeks starting in the window, assess incidents, and derive alerts."""
    from biotracker.alerts.refresh import refresh_derived
    from biotracker.scoring.relevance.tasks import models_dir

    settings = load_settings()
    engine = open_store(settings)
    window = Window.parse(start, end)
    # Until the chain passes normalise's report ids: the reports published in the window (a scope
    # never built before is built in full).
    runs = refresh_derived(engine, window, models_dir(settings), published=window)
    return {"scopes": [r.summary() for r in runs]}


def publish_digest(day: str, lookback_days: int | None = None) -> dict[str, object]:
    """Digest, exports (CAP, STIX, JSON) and subscriber emails for ``day``; a re-run sends nothing twice."""
    from biotracker.outputs.publish import publish_day

    settings = load_settings()
    result = publish_day(
        open_store(settings), settings, dt.date.fromisoformat(day), lookback_days=lookback_days
    )
    return result.summary()
