"""Publish the daily digest (HTML and text) of the alerts of the days before the run's day.

Asset-triggered by new alerts; ``params.day`` and ``params.lookback_days`` override the defaults.
"""

import pendulum
from airflow.sdk import Param, dag, task
from biotracker_assets import ALERTS, DEFAULT_ARGS, DIGEST


@dag(
    schedule=[ALERTS],
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["biotracker", "publish"],
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
    params={
        "day": Param(None, type=["null", "string"]),
        "lookback_days": Param(None, type=["null", "integer"]),
    },
)
def publish_digest():
    @task(outlets=[DIGEST])
    def publish_digest(params=None, data_interval_end=None) -> dict:
        from biotracker.tasks import publish_digest as run
        from biotracker.tasks import resolve_window

        day = params.get("day") or resolve_window(None, None, data_interval_end, 1).end.date().isoformat()
        return run(day, params.get("lookback_days"))

    publish_digest()


dag_object = publish_digest()

if __name__ == "__main__":
    dag_object.test()
