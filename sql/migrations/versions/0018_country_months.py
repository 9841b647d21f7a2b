"""country months: counted reports per disease, country and calendar month, for the lens

A daily run assesses incidents of the last few weeks, but read each disease's whole weekly
history by country (every week of five years for a busy disease) to answer what the weeks before
them hold: how a country's reports fall by month, and its last week with a report. With
``country_months`` (kept by clustering with ``series_counts``) the months are the total less the
recent weeks, and the new index reads the recent weeks, and the countries of each week, as ranges.
Existing stores are filled from ``series_counts`` here.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "country_months",
        sa.Column("scope", sa.String(length=200), nullable=False, server_default="tlp:clear",
                  comment="visibility scope: computed only from reports this scope may see (incidents/scopes.py)"),
        sa.Column("disease", sa.String(length=200), nullable=False,
                  comment="the series key's disease part ('*': unknown)"),
        sa.Column("country_iso3", sa.String(length=3), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False, comment="1-12: the month of the week's Monday"),
        sa.Column("n", sa.Integer(), nullable=False, comment="counted reports (> 0)"),
        sa.PrimaryKeyConstraint("scope", "disease", "country_iso3", "month"),
    )
    op.create_index(
        "ix_series_counts_week", "series_counts", ["scope", "disease", "period_start", "country_iso3", "host", "n"]
    )
    counts = sa.table(
        "series_counts", *(sa.column(c) for c in ("scope", "disease", "country_iso3", "period_start", "n"))
    )
    months = sa.table("country_months", *(sa.column(c) for c in ("scope", "disease", "country_iso3", "month", "n")))
    disease = sa.func.coalesce(counts.c.disease, "*")
    month = sa.cast(sa.extract("month", counts.c.period_start), sa.Integer)
    op.execute(
        months.insert().from_select(
            ["scope", "disease", "country_iso3", "month", "n"],
            sa.select(counts.c.scope, disease, counts.c.country_iso3, month, sa.func.sum(counts.c.n))
            .where(counts.c.country_iso3.is_not(None))
            .group_by(counts.c.scope, disease, counts.c.country_iso3, month),
        )
    )


def downgrade() -> None:
    op.drop_index("ix_series_counts_week", table_name="series_counts")
    op.drop_table("country_months")
