"""incident page: versioned GFT/mGFT worksheet entries; analysts' incident merges (forced links)

Revision ID: 0015
Revises: 0012 (chained after web-base's 0012 so the branch has one head; the brief said 0009)
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worksheet_entries",
        sa.Column("incident_id", sa.String(length=64), nullable=False,
                  comment="stored (scope-qualified) incident id"),
        sa.Column("tool", sa.String(length=16), nullable=False, comment="gft or mgft (data/worksheets.toml)"),
        sa.Column("assessor", sa.String(length=100), nullable=False,
                  comment="username of the analyst who scored"),
        sa.Column("version", sa.Integer(), nullable=False, comment="1, 2, ... per incident, tool and assessor"),
        sa.Column("scores", sa.JSON(), nullable=False, comment="[{criterion_id, points, evidence}]"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("incident_id", "tool", "assessor", "version"),
    )
    op.create_table(
        "incident_merges",
        sa.Column("report_id", sa.String(length=300), nullable=False, comment="a report of one merged incident"),
        sa.Column("with_report_id", sa.String(length=300), nullable=False, comment="a report of the other"),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("report_id", "with_report_id"),
        comment="forced links between incidents an analyst merged; every clustering run respects them",
    )


def downgrade() -> None:
    op.drop_table("incident_merges")
    op.drop_table("worksheet_entries")
