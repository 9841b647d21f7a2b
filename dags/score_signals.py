"""Group reports into incidents, score weekly series per (disease, country, host), assess incidents,
derive and rank alerts, in every visibility scope.

One task per stage (build_incidents -> score_window -> assess_incidents -> derive_alerts ->
rank_alerts), each with its own retries and logs; each hands the next what it changed (XCom), so a
run touches only what the new reports can change. Runs once per ``reports`` event and works on the windows it carries; a manual
run takes ``params.windows`` (copied from an upstream run), or ``params.start``/``params.end`` (the
weeks to score) and ``params.day``. ``rank_alerts`` emits the one ``alerts`` event of the run.
"""

import pendulum
from airflow.sdk import Param, dag, task
from biotracker_assets import ALERTS, DEFAULT_ARGS, REPORTS, event_extras, run_after


@dag(
    schedule=[REPORTS],
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["biotracker", "scoring"],
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
    params={
        "start": Param(None, type=["null", "string"]),
        "end": Param(None, type=["null", "string"]),
        "day": Param(None, type=["null", "string"]),
        "windows": Param(None, type=["null", "object"]),
    },
)
def score_signals():
    @task
    def windows(
        params=None,
        triggering_asset_events=None,
        data_interval_start=None,
        data_interval_end=None,
        dag_run=None,
    ) -> dict:
        from biotracker.tasks import chain_windows_of_run

        extras = event_extras(triggering_asset_events)
        return chain_windows_of_run(
            extras, params, data_interval_start, data_interval_end, run_after(dag_run)
        )

    @task
    def build_incidents(span: dict) -> dict:
        from biotracker.tasks import build_incidents as run

        return run(span)

    @task
    def score_window(span: dict, built: dict) -> dict:
        from biotracker.tasks import score_window as run

        return run(span, built)

    @task
    def assess_incidents(built: dict) -> dict:
        from biotracker.tasks import assess_incidents as run

        return run(built)

    @task
    def derive_alerts(span: dict, assessed: dict) -> dict:
        from biotracker.tasks import derive_alerts as run

        return run(span, assessed)

    @task(outlets=[ALERTS])
    def rank_alerts(span: dict, alerted: dict, outlet_events=None) -> dict:
        from biotracker.tasks import rank_alerts as run

        result = run(alerted)
        outlet_events[ALERTS].extra = span
        return result

    span = windows()
    built = build_incidents(span)
    assessed = assess_incidents(built)
    score_window(span, built) >> assessed
    rank_alerts(span, derive_alerts(span, assessed))


dag_object = score_signals()

if __name__ == "__main__":
    dag_object.test()
