"""Normalise archived payloads into reports (failures to quarantine).

Runs once per completed ingest run (the ``raw_payloads`` event). ``plan_windows`` plans the
windows of the rest of the chain from the fetch window and the data (biotracker/chain.py) and emits
them with the one ``reports`` event of the run. A manual run takes ``params.start``/``params.end``
(the fetch window) and optionally ``params.day``.
"""

import pendulum
from airflow.sdk import Param, dag, task
from biotracker_assets import DEFAULT_ARGS, RAW_PAYLOADS, REPORTS, event_extras, run_after


@dag(
    schedule=[RAW_PAYLOADS],
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["biotracker", "normalise"],
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
    params={
        "start": Param(None, type=["null", "string"]),
        "end": Param(None, type=["null", "string"]),
        "day": Param(None, type=["null", "string"]),
    },
)
def normalise_reports():
    @task
    def fetch_window(
        params=None,
        triggering_asset_events=None,
        data_interval_start=None,
        data_interval_end=None,
        dag_run=None,
    ) -> dict:
        from biotracker.tasks import fetch_extra, fetch_window_of_run

        extras = event_extras(triggering_asset_events)
        window = fetch_window_of_run(
            extras, params, data_interval_start, data_interval_end, run_after(dag_run)
        )
        return fetch_extra(window)

    @task
    def normalise_reports() -> dict:
        from biotracker.tasks import normalise_reports as run

        return run()

    @task(outlets=[REPORTS])
    def plan_windows(span: dict, params=None, outlet_events=None) -> dict:
        from biotracker.tasks import plan_windows as run

        result = run(span["fetch_start"], span["fetch_end"], params.get("day"))
        outlet_events[REPORTS].extra = result["windows"]
        return result

    span = fetch_window()
    normalise_reports() >> plan_windows(span)


dag_object = normalise_reports()

if __name__ == "__main__":
    dag_object.test()
