"""analyst workbench: saved queue views per user

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "saved_views",
        sa.Column("view_id", sa.String(length=32), nullable=False,
                  comment="sha256 of username|name, shortened"),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("query", sa.Text(), nullable=False, comment="the queue's filter query string"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["username"], ["users.username"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("view_id"),
    )
    op.create_index("ix_saved_views_username", "saved_views", ["username"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_saved_views_username", table_name="saved_views")
    op.drop_table("saved_views")
