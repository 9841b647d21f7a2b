"""blocking keys: which stored reports can link to a new one, by index probes

An incremental clustering run read every report within ``gap_days`` of the new ones, a share of
the history that grows with its density. ``report_keys`` holds each report's blocking keys (its
canonical URL, its content, its agent|country, its 16 MinHash LSH band keys, as 64-bit
fingerprints, with its event time), so the run reads only the reports that share a key with a new
one (``biotracker/incidents/blocking.py``). Existing reports are keyed here (about 20 rows each).

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_keys",
        sa.Column("report_id", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.Integer(), nullable=False, comment="1 URL, 2 content, 3 agent|country, 4 LSH band"),
        sa.Column("key", sa.BigInteger(), nullable=False,
                  comment="64-bit fingerprint of the value (incidents/blocking.py)"),
        sa.Column("at", sa.DateTime(timezone=True), nullable=True,
                  comment="the report's event time (observed, else published)"),
        sa.ForeignKeyConstraint(["report_id"], ["reports.report_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("report_id", "kind", "key"),
        comment="blocking keys: which reports can link to a new one (incidents/blocking.py); derived from reports",
    )
    op.create_index("ix_report_keys_key", "report_keys", ["key", "at"])
    # the keys are the clustering's own fingerprints: computed by the code that probes them
    from biotracker.incidents.build import key_stored_reports

    key_stored_reports(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_report_keys_key", table_name="report_keys")
    op.drop_table("report_keys")
