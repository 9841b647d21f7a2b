"""Normalise archived payloads into reports (failures to quarantine) and group them into incidents.

Runs whenever new raw payloads land (asset-triggered).
"""

import pendulum
from airflow.sdk import dag, task
from biotracker_assets import DEFAULT_ARGS, RAW_PAYLOADS, REPORTS


@dag(
    schedule=[RAW_PAYLOADS],
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["biotracker", "normalise"],
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
)
def normalise_reports():
    @task(outlets=[REPORTS])
    def normalise_window() -> dict:
        from biotracker.tasks import normalise_reports as run

        return run()

    normalise_window()


dag_object = normalise_reports()

if __name__ == "__main__":
    dag_object.test()
