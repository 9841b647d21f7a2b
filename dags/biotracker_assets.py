"""Shared by the DAG files (Airflow puts dags/ on sys.path): assets linking the Biotracker DAGs: raw payloads -> reports -> signals/alerts -> digest."""

from datetime import timedelta

from airflow.sdk import Asset

RAW_PAYLOADS = Asset("biotracker://raw_payloads")
REPORTS = Asset("biotracker://reports")
ALERTS = Asset("biotracker://alerts")
DIGEST = Asset("biotracker://digest")

DEFAULT_ARGS = {
    "retries": 3,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(hours=1),
}
