"""series counts: counted reports per (series, week), kept by clustering for scoring and the lens

Scoring read a touched series' weekly counts, and the lens a disease's whole weekly history, by
grouping every counted link (``incident_reports``) on each run: the cost grew with the stored
history. ``series_counts`` holds that GROUP BY, maintained by ``build_incidents`` from each run's
link changes (``incidents/series_counts.py``). Existing stores are filled from their links here.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "series_counts",
        sa.Column("scope", sa.String(length=200), nullable=False, server_default="tlp:clear",
                  comment="visibility scope: computed only from reports this scope may see (incidents/scopes.py)"),
        sa.Column("series_key", sa.String(length=300), nullable=False, comment="disease|country|host"),
        sa.Column("period_start", sa.Date(), nullable=False, comment="Monday of the week"),
        sa.Column("disease", sa.String(length=200), nullable=True,
                  comment="the series key's parts, for the lens's per-disease reads"),
        sa.Column("country_iso3", sa.String(length=3), nullable=True),
        sa.Column("host", sa.String(length=200), nullable=True),
        sa.Column("n", sa.Integer(), nullable=False, comment="counted reports of the series that week (> 0)"),
        sa.PrimaryKeyConstraint("scope", "series_key", "period_start"),
    )
    # a disease's weekly counts by country and by host, summed from the index alone
    op.create_index(
        "ix_series_counts_country", "series_counts", ["scope", "disease", "country_iso3", "period_start", "n"]
    )
    op.create_index("ix_series_counts_host", "series_counts", ["scope", "disease", "host", "period_start", "n"])
    # one GROUP BY over the links; the key's parts are split in Python ("*" means unknown)
    conn = op.get_bind()
    table = sa.table(
        "series_counts",
        *(sa.column(c) for c in ("scope", "series_key", "period_start", "disease", "country_iso3", "host", "n")),
    )
    rows = conn.execute(
        sa.text(
            "SELECT scope, series_key, period_start, count(*) AS n FROM incident_reports "
            "WHERE period_start IS NOT NULL AND duplicate_of IS NULL AND series_key IS NOT NULL "
            "GROUP BY scope, series_key, period_start"
        )
    )
    batch: list[dict] = []
    for scope, key, week, n in rows:
        disease, country, host = ([None if p == "*" else p for p in key.split("|")] + [None, None])[:3]
        batch.append(
            {"scope": scope, "series_key": key, "period_start": week, "disease": disease,
             "country_iso3": country, "host": host, "n": n}
        )
    for i in range(0, len(batch), 10_000):
        op.bulk_insert(table, batch[i : i + 10_000])


def downgrade() -> None:
    op.drop_index("ix_series_counts_host", table_name="series_counts")
    op.drop_index("ix_series_counts_country", table_name="series_counts")
    op.drop_table("series_counts")
