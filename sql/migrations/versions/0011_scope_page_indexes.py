"""page indexes for the server's scope-based reads: alerts and incidents of one scope, in the API's
page order, optionally of one country

The API reads derived rows from the caller's one visibility scope (server/visibility.py) in the
order ``period_start DESC, alert_id`` (alerts) and ``first_seen_at DESC NULLS LAST, incident_id``
(incidents), a page at a time. Each index below is that order read backwards, so a page is one
index range scan whatever the store's size, with or without a country filter. (An incident's
reports are found through the primary key of ``incident_reports``, which starts with
``incident_id``: no index is needed for them.) SQLite has no NULLS FIRST in an index and puts NULLs
first anyway.

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None


def _nulls_first(column: str) -> sa.TextClause:
    return sa.text(f"{column} NULLS FIRST" if op.get_bind().dialect.name == "postgresql" else column)


def upgrade() -> None:
    op.create_index("ix_alerts_scope_page", "alerts", ["scope", "period_start", sa.text("alert_id DESC")])
    op.create_index(
        "ix_alerts_scope_country_page",
        "alerts",
        ["scope", "country_iso3", "period_start", sa.text("alert_id DESC")],
    )
    op.create_index(
        "ix_incidents_scope_page",
        "incidents",
        ["scope", _nulls_first("first_seen_at"), sa.text("incident_id DESC")],
    )
    op.create_index(
        "ix_incidents_scope_country_page",
        "incidents",
        ["scope", "country_iso3", _nulls_first("first_seen_at"), sa.text("incident_id DESC")],
    )


def downgrade() -> None:
    op.drop_index("ix_incidents_scope_country_page", table_name="incidents")
    op.drop_index("ix_incidents_scope_page", table_name="incidents")
    op.drop_index("ix_alerts_scope_country_page", table_name="alerts")
    op.drop_index("ix_alerts_scope_page", table_name="alerts")
