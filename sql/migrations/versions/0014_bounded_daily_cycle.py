"""bounded daily cycle: links carry their report's source (each source's first week is an index probe)

The risk lens asks, for every run, when each source's first counted week was (a feed that began
last month cannot say what is new). Grouping every link of the scope joined to its report grew
with the stored history; with ``incident_reports.source`` and an index on (scope, source,
period_start) it is one probe per source. Existing links are filled in from ``reports``. Two
covering indexes let the lens read a disease's weeks and its fatality ratios from the index alone.

Revision ID: 0014
Revises: 0009
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (nullable, no default): SQLite adds it in place, no table copy.
    op.add_column(
        "incident_reports",
        sa.Column("source", sa.String(length=64), nullable=True,
                  comment="the report's source (reports.source), copied at link time"),
    )
    op.execute(
        "UPDATE incident_reports SET source = "
        "(SELECT reports.source FROM reports WHERE reports.report_id = incident_reports.report_id)"
    )
    op.create_index("ix_incident_reports_source", "incident_reports", ["scope", "source", "period_start"])
    # covering indexes: a disease's links from a week on (which incidents to re-assess, the lens's
    # weekly history) and its links with enough cases for a fatality ratio, without table lookups
    op.create_index(
        "ix_incident_reports_disease_week",
        "incident_reports",
        ["scope", "disease", "period_start", "duplicate_of", "series_key", "incident_id"],
    )
    op.create_index(
        "ix_incident_reports_fatality",
        "incident_reports",
        ["scope", "disease", "cases", "deaths", "period_start", "duplicate_of"],
    )


def downgrade() -> None:
    op.drop_index("ix_incident_reports_fatality", table_name="incident_reports")
    op.drop_index("ix_incident_reports_disease_week", table_name="incident_reports")
    op.drop_index("ix_incident_reports_source", table_name="incident_reports")
    with op.batch_alter_table("incident_reports") as batch:
        batch.drop_column("source")
