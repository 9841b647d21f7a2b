"""Fetch every registered feed into the raw archive, one mapped task per connector.

A failing feed fails only its own mapped task (labelled with the connector's name); the others
still land. Window: the run's data interval, or ``params.start``/``params.end``.
"""

import pendulum
from airflow.sdk import Param, dag, get_current_context, task
from biotracker_assets import DEFAULT_ARGS, RAW_PAYLOADS


@dag(
    schedule="@hourly",
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
    def window(params=None, data_interval_start=None, data_interval_end=None) -> dict:
        from biotracker.tasks import resolve_window

        w = resolve_window(params, data_interval_start, data_interval_end, default_days=1)
        return {"start": w.start.isoformat(), "end": w.end.isoformat()}

    @task(outlets=[RAW_PAYLOADS], map_index_template="{{ source_name }}")
    def fetch_to_raw(source: str, span: dict) -> dict:
        from biotracker.tasks import fetch_to_raw as run

        get_current_context()["source_name"] = source
        return run(source, span["start"], span["end"])

    fetch_to_raw.partial(span=window()).expand(source=sources())


dag_object = ingest_feeds()

if __name__ == "__main__":
    dag_object.test()
