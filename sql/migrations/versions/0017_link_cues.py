"""link cues: each link says how many intent and accident cues its report's evidence holds

The lens read every counted member's evidence (extraction and cues) of every incident it
assessed; an incident of a dense series holds thousands of reports, almost none with cues. With
``incident_reports.cues`` it reads the evidence of only the reports that have cues, and each
incident's first member for its agent. Existing links are filled in from ``reports.evidence``.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "incident_reports",
        sa.Column("cues", sa.Integer(), nullable=True,
                  comment="intent and accident cues in the report's evidence, copied at link time"),
    )
    if op.get_bind().dialect.name == "postgresql":
        count = (
            "CASE WHEN json_typeof(r.evidence -> 'cues') = 'array' "
            "THEN json_array_length(r.evidence -> 'cues') ELSE 0 END"
        )
    else:
        count = "CASE WHEN json_type(r.evidence, '$.cues') = 'array' THEN json_array_length(r.evidence, '$.cues') ELSE 0 END"
    op.execute(
        f"UPDATE incident_reports SET cues = (SELECT {count} FROM reports r "
        "WHERE r.report_id = incident_reports.report_id)"
    )


    op.create_index(
        "ix_incident_reports_members",
        "incident_reports",
        ["incident_id", "scope", "duplicate_of", "series_key", "period_start", "source", "cases", "deaths",
         "report_id"],
    )
    op.create_index(
        "ix_incident_reports_cued",
        "incident_reports",
        ["incident_id"],
        sqlite_where=sa.text("cues > 0"),
        postgresql_where=sa.text("cues > 0"),
    )


def downgrade() -> None:
    op.drop_index("ix_incident_reports_cued", table_name="incident_reports")
    op.drop_index("ix_incident_reports_members", table_name="incident_reports")
    with op.batch_alter_table("incident_reports") as batch:
        batch.drop_column("cues")
