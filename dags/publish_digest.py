"""Publish the daily digest, exports and subscriber digests for the run's day, then mail them once.

Runs once per ``alerts`` event; the day comes from the windows it carries (biotracker/chain.py),
else ``params.day``, else the run's data interval. ``publish_digest`` writes every file and stores
each subscriber's message in the outbox; only after it succeeded does ``mail_digest`` send the
outbox, so no email leaves from a partial publication, and a day already mailed is not mailed again.
"""

import pendulum
from airflow.sdk import Param, dag, task
from biotracker_assets import ALERTS, DEFAULT_ARGS, DIGEST, event_extras, run_after


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
    @task
    def publish_digest(
        params=None,
        triggering_asset_events=None,
        data_interval_start=None,
        data_interval_end=None,
        dag_run=None,
    ) -> dict:
        from biotracker.tasks import chain_windows_of_run
        from biotracker.tasks import publish_digest as run

        extras = event_extras(triggering_asset_events)
        windows = chain_windows_of_run(
            extras, params, data_interval_start, data_interval_end, run_after(dag_run)
        )
        return run(str(params.get("day") or windows["day"]), params.get("lookback_days"))

    @task(outlets=[DIGEST])
    def mail_digest() -> dict:
        from biotracker.tasks import mail_digest as run

        return run()

    publish_digest() >> mail_digest()


dag_object = publish_digest()

if __name__ == "__main__":
    dag_object.test()
