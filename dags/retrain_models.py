"""Retrain the relevance model from analysts' feedback labels and re-rank the alerts.

Weekly. Trains a scikit-learn pipeline on every ``biotracker feedback`` label, saves it with skops
and a model card under ``models/`` (``BIOTRACKER_MODELS_DIR``), then scores every alert with the
newest card-validated model (or the rule score while there are too few labels). See
docs/RELEVANCE.md.
"""

import pendulum
from airflow.sdk import dag, task
from biotracker_assets import DEFAULT_ARGS


@dag(
    schedule="@weekly",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["biotracker", "models"],
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
)
def retrain_models():
    @task
    def retrain_models(logical_date=None, data_interval_end=None) -> dict:
        from biotracker.scoring.relevance.tasks import retrain_models as run

        at = data_interval_end or logical_date
        return run(at.isoformat() if at else None)

    retrain_models()


dag_object = retrain_models()

if __name__ == "__main__":
    dag_object.test()
