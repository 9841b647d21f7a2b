"""Shared by the DAG files (Airflow puts dags/ on sys.path): the assets linking the Biotracker DAGs
(raw payloads -> reports -> alerts -> digest), default task arguments, and reading asset events.

Each upstream run emits exactly one event per asset, from its last task, carrying the windows the
next DAG works on in ``extra`` (see biotracker/chain.py).
"""

import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from airflow.sdk import Asset

RAW_PAYLOADS = Asset("biotracker://raw_payloads")
REPORTS = Asset("biotracker://reports")
ALERTS = Asset("biotracker://alerts")
DIGEST = Asset("biotracker://digest")

#: When ingest_feeds runs on its own: a cron expression or preset, or "none" to run it only when
#: triggered (REST API, UI, ``airflow dags trigger``). Read when the file is parsed, because the
#: scheduler needs it before any task runs; set it on the dag-processor (and scheduler).
INGEST_SCHEDULE = os.environ.get("BIOTRACKER_INGEST_SCHEDULE", "@hourly").strip()

DEFAULT_ARGS = {
    "retries": 3,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(hours=1),
    # The task's overall deadline: a stage that hangs (a database lock, a stalled mount) fails and is
    # retried instead of holding the run; each fetch inside has its own, shorter deadline
    # (BIOTRACKER_HTTP_DEADLINE_S, 300 s).
    "execution_timeout": timedelta(hours=2),
}


def schedule_or_none(text: str) -> str | None:
    return None if text.lower() in {"", "none"} else text


def event_extras(triggering_asset_events: Mapping[Any, Any] | None) -> list[dict]:
    """The ``extra`` of every asset event that triggered this run (several may be batched)."""
    return [
        dict(event.extra or {}) for events in (triggering_asset_events or {}).values() for event in events
    ]


def run_after(dag_run: Any) -> Any:
    """When the run was due (Airflow 3): the fallback end of a window, instead of the wall clock."""
    return getattr(dag_run, "run_after", None)
