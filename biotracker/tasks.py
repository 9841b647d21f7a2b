"""What each Airflow task calls: one stage of ``biotracker.chain`` per task, plain values in, small JSON out.

They read settings from the environment (``BIOTRACKER_*``) because an Airflow worker has nothing
else; the DAG files under ``dags/`` only wire these together. A test can call every one directly.

Windows travel as JSON: the ingest run's fetch window (``{"fetch_start", "fetch_end"}``) in the
``raw_payloads`` asset event, then every later window (``ChainWindows.as_extra()``) in the
``reports`` and ``alerts`` events. Without events (a manual run) they come from the run's params or
its data interval, and failing that from the moment the run was due (``run_after``), never from the
wall clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Engine

from biotracker import chain
from biotracker.config import Settings, load_settings
from biotracker.db.engine import open_store
from biotracker.errors import PublishError
from biotracker.schema import Window, as_utc

Extra = Mapping[str, Any]


def _store() -> tuple[Settings, Engine]:
    settings = load_settings()
    return settings, open_store(settings)


def resolve_window(
    params: Mapping[str, Any] | None,
    interval_start: dt.datetime | None,
    interval_end: dt.datetime | None,
    run_after: dt.datetime | None,
    default_days: int = 1,
) -> Window:
    """The run's fetch window: ``params.start``/``params.end`` when given, else the data interval.

    A manual or asset-triggered run may have an empty interval; then the window is the
    ``default_days`` before its end (the interval's end, else the time the run was due).
    """
    params = params or {}
    moment = params.get("end") or interval_end or run_after
    if not moment:
        raise ValueError("the run has no data interval and no run_after: pass params.start and params.end")
    end = as_utc(moment)
    if params.get("start"):
        start = as_utc(params["start"])
    elif interval_start is not None and as_utc(interval_start) < end:
        start = as_utc(interval_start)
    else:
        start = end - dt.timedelta(days=default_days)
    return Window(start, end)


def fetch_extra(window: Window) -> dict[str, str]:
    """The ``raw_payloads`` asset event's extra: the window this ingest run fetched."""
    return {"fetch_start": window.start.isoformat(), "fetch_end": window.end.isoformat()}


def list_sources() -> list[str]:
    from biotracker.ingest.registry import list_connectors

    return list_connectors()


def fetch_to_raw(source: str, start: str, end: str) -> dict[str, object]:
    """Fetch one feed for ``[start, end)`` into the raw archive (replaying if BIOTRACKER_REPLAY_DIR).

    Raises :class:`~biotracker.errors.FetchError`: the DAG fails fatal ones at once, retries the rest.
    """
    settings, engine = _store()
    result = chain.fetch_one(settings, engine, source, Window.parse(start, end))
    return {k: v for k, v in result.summary().items() if k != "payloads"} | {"payloads": len(result.payloads)}


def normalise_reports() -> dict[str, object]:
    """Normalise every pending payload (whatever window fetched it)."""
    settings, engine = _store()
    return chain.normalise(settings, engine).summary()


def fetch_window_of_run(
    extras: Sequence[Extra],
    params: Mapping[str, Any] | None,
    interval_start: dt.datetime | None,
    interval_end: dt.datetime | None,
    run_after: dt.datetime | None,
) -> Window:
    """The fetch window the downstream chain works from: the ingest events', else the run's own."""
    if any("fetch_start" in e for e in extras):
        return chain.fetch_windows(extras)
    return resolve_window(params, interval_start, interval_end, run_after)


def plan_windows(start: str, end: str, day: str | None = None) -> dict[str, object]:
    """Plan the chain's windows from the fetch window and the normalised data.

    Returns ``{"windows": ChainWindows.as_extra()}``; the DAG puts the windows into the ``reports``
    asset event for the scoring DAG, whose first task clusters the reports window.
    """
    _, engine = _store()
    windows = chain.plan_windows(
        engine, Window.parse(start, end), dt.date.fromisoformat(day) if day else None
    )
    return {"windows": windows.as_extra()}


def chain_windows_of_run(
    extras: Sequence[Extra],
    params: Mapping[str, Any] | None,
    interval_start: dt.datetime | None,
    interval_end: dt.datetime | None,
    run_after: dt.datetime | None,
) -> dict[str, str | None]:
    """The windows of a scoring or publishing run.

    From the triggering events; else ``params.windows`` (a ``ChainWindows.as_extra()`` copied from an
    upstream run); else ``params.start``/``params.end`` as the weeks to score (and ``params.day``);
    else planned from the run's data interval.
    """
    params = params or {}
    if any("day" in e for e in extras):
        return chain.ChainWindows.from_extras([e for e in extras if "day" in e]).as_extra()
    if params.get("windows"):
        return chain.ChainWindows.from_extra(params["windows"]).as_extra()
    if params.get("start") and params.get("end"):
        weeks = Window.parse(params["start"], params["end"])
        day = dt.date.fromisoformat(params["day"]) if params.get("day") else weeks.end.date()
        return chain.ChainWindows(fetch=weeks, day=day, reports=weeks, scored=weeks).as_extra()
    _, engine = _store()
    fetched = resolve_window(None, interval_start, interval_end, run_after)
    asked = dt.date.fromisoformat(params["day"]) if params.get("day") else None
    return chain.plan_windows(engine, fetched, asked).as_extra()


def build_incidents(windows: Extra) -> dict[str, object]:
    """Cluster the reports of ``windows.reports`` in every visibility scope; hand on what changed."""
    _, engine = _store()
    summary, built = chain.incidents(engine, chain.ChainWindows.from_extra(windows))
    return {"incidents": summary.summary(), "changes": built.to_json()}


def score_window(windows: Extra, built: Mapping[str, Any]) -> dict[str, Any]:
    """Score the series clustering touched, for the weeks of ``windows.scored``."""
    from biotracker.alerts.refresh import ScopedChanges

    _, engine = _store()
    changes = ScopedChanges.from_json(built.get("changes"))
    return chain.score(engine, chain.ChainWindows.from_extra(windows), changes).summary()


def assess_incidents(built: Mapping[str, Any]) -> dict[str, Any]:
    """Risk lens over the incidents clustering touched; hands on what the alerts stage takes."""
    from biotracker.alerts.refresh import ScopedChanges

    _, engine = _store()
    summary, assessed = chain.lens(engine, ScopedChanges.from_json(built.get("changes")))
    return {"lens": summary.summary(), "changes": assessed.to_json()}


def derive_alerts(windows: Extra, assessed: Mapping[str, Any]) -> dict[str, object]:
    """Alerts of the touched series, for the weeks of ``windows.scored``."""
    from biotracker.alerts.refresh import ScopedChanges

    _, engine = _store()
    changes = ScopedChanges.from_json(assessed.get("changes"))
    alerted = chain.alerts(engine, chain.ChainWindows.from_extra(windows), changes)
    return {"alerts": alerted.summary(), "alert_ids": alerted.alert_ids}


def rank_alerts(alerted: Mapping[str, Any]) -> dict[str, object]:
    """Rank the alerts just written by relevance (newest valid model, else the rule score)."""
    settings, engine = _store()
    ranked = chain.rank(settings, engine, alerted.get("alert_ids") or [])
    return {"ranked": len(ranked), "ranked_by": sorted({r.source for r in ranked})}


def publish_digest(day: str, lookback_days: int | None = None) -> dict[str, object]:
    """Digest, exports (CAP, STIX, JSON) and each subscriber's message stored in the outbox for ``day``.

    Nothing is mailed here: :func:`mail_digest` sends once the whole publication is written. A day
    whose message was already sent is not queued again.
    """
    settings, engine = _store()
    published = chain.publish(
        settings, engine, dt.date.fromisoformat(day), lookback_days=lookback_days, send=False
    )
    return published.summary()


def mail_digest() -> dict[str, object]:
    """Send every message in the outbox; raises :class:`PublishError` (retry) if any send failed."""
    from biotracker.outputs.mail import send_outbox

    settings = load_settings()
    if not settings.smtp_host:
        return {"sent": 0, "failed": {}, "note": "no SMTP server configured (BIOTRACKER_SMTP_HOST)"}
    result = send_outbox(settings)
    if result.failed:
        raise PublishError(
            f"{len(result.failed)} digest email(s) not sent (kept in the outbox): "
            + "; ".join(result.failed.values())
        )
    return result.summary()
