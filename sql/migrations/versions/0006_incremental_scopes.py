"""incremental stages and visibility scopes: per-scope derived rows, link facts, lookup indexes

Derived tables (incidents, incident_reports, incident_assessments, signals, alerts) gain a
``scope`` (incidents/scopes.py); links carry their report's series, week, cases and deaths so that
later stages read only the series and weeks a run touches; indexes make lookups by report id,
event time and marking probes instead of scans. Rows written before this revision are marked
public but were computed from every report: run ``biotracker rebuild`` once after upgrading.

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0003"
branch_labels = None
depends_on = None

SCOPE_COMMENT = "visibility scope: computed only from reports this scope may see (incidents/scopes.py)"


def _scope() -> sa.Column:
    return sa.Column(
        "scope", sa.String(length=200), nullable=False, server_default="tlp:clear", comment=SCOPE_COMMENT
    )


def upgrade() -> None:
    for table in ("incidents", "incident_assessments", "signals"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(_scope())
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(_scope())
        batch.add_column(
            sa.Column("series_key", sa.String(length=300), nullable=True, comment="0006: the series the alert is about")
        )
    with op.batch_alter_table("incident_reports") as batch:
        batch.add_column(_scope())
        batch.add_column(
            sa.Column("series_key", sa.String(length=300), nullable=True,
                      comment="disease|country|host of the report (incidents/series.py)")
        )
        batch.add_column(sa.Column("disease", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("country_iso3", sa.String(length=3), nullable=True))
        batch.add_column(
            sa.Column("period_start", sa.Date(), nullable=True,
                      comment="Monday of the report's event week; NULL without a date")
        )
        batch.add_column(sa.Column("cases", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("deaths", sa.Integer(), nullable=True))
    op.create_index("ix_reports_tlp_source", "reports", ["tlp", "source"])
    op.create_index("ix_reports_event_at", "reports", [sa.text("coalesce(observed_at, published_at)")])
    op.create_index("ix_incidents_scope_first_seen", "incidents", ["scope", "first_seen_at"])
    op.create_index("ix_incident_reports_report_id", "incident_reports", ["report_id", "scope"])
    op.create_index("ix_incident_reports_series", "incident_reports", ["scope", "series_key", "period_start"])
    op.create_index(
        "ix_incident_reports_disease", "incident_reports", ["scope", "disease", "country_iso3", "period_start"]
    )
    op.create_index("ix_incident_reports_period", "incident_reports", ["scope", "period_start"])
    op.create_index("ix_signals_scope_series_period", "signals", ["scope", "series_key", "period_start"])
    op.create_index("ix_alerts_scope_period", "alerts", ["scope", "period_start"])
    op.create_index("ix_alerts_scope_series", "alerts", ["scope", "series_key", "period_start"])


def downgrade() -> None:
    for name, table in (
        ("ix_alerts_scope_series", "alerts"),
        ("ix_alerts_scope_period", "alerts"),
        ("ix_signals_scope_series_period", "signals"),
        ("ix_incident_reports_period", "incident_reports"),
        ("ix_incident_reports_disease", "incident_reports"),
        ("ix_incident_reports_series", "incident_reports"),
        ("ix_incident_reports_report_id", "incident_reports"),
        ("ix_incidents_scope_first_seen", "incidents"),
        ("ix_reports_event_at", "reports"),
        ("ix_reports_tlp_source", "reports"),
    ):
        op.drop_index(name, table_name=table)
    with op.batch_alter_table("incident_reports") as batch:
        for column in ("deaths", "cases", "period_start", "country_iso3", "disease", "series_key", "scope"):
            batch.drop_column(column)
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("series_key")
        batch.drop_column("scope")
    for table in ("signals", "incident_assessments", "incidents"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("scope")
