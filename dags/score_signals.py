"""Score weekly series per (disease, country) and derive alerts for the window's weeks.

Asset-triggered by new reports; the window is ``params.start``/``params.end`` or the 8 weeks
before the run.
"""

import pendulum
from airflow.sdk import Param, dag, task
from biotracker_assets import ALERTS, DEFAULT_ARGS, REPORTS


@dag(
    schedule=[REPORTS],
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["biotracker", "scoring"],
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
    params={"start": Param(None, type=["null", "string"]), "end": Param(None, type=["null", "string"])},
)
def score_signals():
    @task(outlets=[ALERTS])
    def score_window(params=None, data_interval_start=None, data_interval_end=None) -> dict:
        from biotracker.tasks import resolve_window
        from biotracker.tasks import score_signals as run

        w = resolve_window(params, data_interval_start, data_interval_end, default_days=56)
        return run(w.start.isoformat(), w.end.isoformat())

    score_window()


dag_object = score_signals()

if __name__ == "__main__":
    dag_object.test()
