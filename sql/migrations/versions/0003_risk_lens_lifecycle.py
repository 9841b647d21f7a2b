"""risk lens assessments, alert lifecycle events and analyst feedback

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("last_period", sa.Date(), nullable=True,
                                   comment="latest week folded into this alert (cool-down episodes)"))
        batch.add_column(sa.Column("rule", sa.String(length=64), nullable=True,
                                   comment="tier rule that set the tier (alerts/tiers.toml)"))
        batch.add_column(sa.Column("features", sa.JSON(), nullable=True, comment="facts the tier rules saw"))
        batch.add_column(sa.Column("status_by", sa.String(length=200), nullable=True, comment="who set the current status"))
        batch.add_column(sa.Column("status_at", sa.DateTime(timezone=True), nullable=True,
                                   comment="when the current status was set"))
    op.create_table(
        "alert_events",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("alert_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=False),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.alert_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index(op.f("ix_alert_events_alert_id"), "alert_events", ["alert_id"], unique=False)
    op.create_table(
        "alert_feedback",
        sa.Column("feedback_id", sa.String(length=64), nullable=False),
        sa.Column("alert_id", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=16), nullable=False, comment="relevant | not-relevant"),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.alert_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("feedback_id"),
    )
    op.create_index(op.f("ix_alert_feedback_alert_id"), "alert_feedback", ["alert_id"], unique=False)
    op.create_table(
        "incident_assessments",
        sa.Column("incident_id", sa.String(length=64), nullable=False),
        sa.Column("agent_key", sa.String(length=100), nullable=True),
        sa.Column("agent_id", sa.String(length=64), nullable=True),
        sa.Column("agent_name", sa.String(length=200), nullable=True),
        sa.Column("agent_flags", sa.JSON(), nullable=False),
        sa.Column("unusual", sa.JSON(), nullable=False, comment="[{flag, evidence}]"),
        sa.Column("cues", sa.JSON(), nullable=False, comment="[{category, text, sentence, report_id}]"),
        sa.Column("indicator_total", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=80), nullable=True),
        sa.Column("indicators", sa.JSON(), nullable=False, comment="fired Radosavljevic indicators with evidence"),
        sa.Column("rule_score", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.incident_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("incident_id"),
    )


def downgrade() -> None:
    op.drop_table("incident_assessments")
    op.drop_index(op.f("ix_alert_feedback_alert_id"), table_name="alert_feedback")
    op.drop_table("alert_feedback")
    op.drop_index(op.f("ix_alert_events_alert_id"), table_name="alert_events")
    op.drop_table("alert_events")
    with op.batch_alter_table("alerts") as batch:
        for name in ("status_at", "status_by", "features", "rule", "last_period"):
            batch.drop_column(name)
