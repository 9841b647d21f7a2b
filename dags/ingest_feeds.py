"""Fetch every registered feed into the raw archive, one mapped task per connector, then announce it.

A failing feed fails only its own mapped task (labelled with the connector's name); the others
still land. A fatal fetch error (HTTP 401/403/404, an unusable payload or recording) fails its task
at once, without retries; a retryable one (429, 5xx, timeouts) is retried with backoff. When every
fetch has finished, ``raw_landed`` emits the one ``raw_payloads`` asset event of the run, carrying
the fetch window, so the downstream chain runs once per completed ingest run.
Window: the run's data interval, or ``params.start``/``params.end``. Schedule: hourly, or
``BIOTRACKER_INGEST_SCHEDULE`` (``none``: only when triggered).
"""

import pendulum
from airflow.sdk import Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException
from biotracker_assets import DEFAULT_ARGS, INGEST_SCHEDULE, RAW_PAYLOADS, run_after, schedule_or_none


@dag(
    schedule=schedule_or_none(INGEST_SCHEDULE),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["biotracker", "ingest"],
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
    params={"start": Param(None, type=["null", "string"]), "end": Param(None, type=["null", "string"])},
)
def ingest_feeds():
    @task
    def sources() -> list[str]:
        from biotracker.tasks import list_sources

        return list_sources()

    @task
    def window(params=None, data_interval_start=None, data_interval_end=None, dag_run=None) -> dict:
        from biotracker.tasks import fetch_extra, resolve_window

        return fetch_extra(resolve_window(params, data_interval_start, data_interval_end, run_after(dag_run)))

    @task(map_index_template="{{ source_name }}")
    def fetch_to_raw(source: str, span: dict) -> dict:
        from biotracker.errors import ConfigError, FatalFetchError
        from biotracker.tasks import fetch_to_raw as run

        get_current_context()["source_name"] = source  # type: ignore[typeddict-unknown-key]  # map label
        try:
            return run(source, span["fetch_start"], span["fetch_end"])
        except (FatalFetchError, ConfigError) as exc:  # retrying cannot help: fail now
            raise AirflowFailException(f"{source}: {exc}") from exc

    @task(outlets=[RAW_PAYLOADS], trigger_rule="all_done")
    def raw_landed(span: dict, outlet_events=None) -> dict:
        outlet_events[RAW_PAYLOADS].extra = span
        return span

    span = window()
    fetched = fetch_to_raw.partial(span=span).expand(source=sources())
    fetched >> raw_landed(span)


dag_object = ingest_feeds()

if __name__ == "__main__":
    dag_object.test()
