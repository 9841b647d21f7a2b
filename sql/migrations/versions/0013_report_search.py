"""full-text search over reports: an FTS5 table kept by triggers on SQLite, a GIN index on the
tsvector of title, summary and text on PostgreSQL (biotracker/db/fulltext.py queries both)

Revision ID: 0013
Revises: 0009
Create Date: 2026-12-03
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# Keep in step with biotracker/db/fulltext.py (PG_DOCUMENT must be the indexed expression verbatim,
# or PostgreSQL will not use the index).
PG_DOCUMENT = (
    "to_tsvector('simple'::regconfig, coalesce(title, '') || ' ' || coalesce(summary, '') || ' ' || "
    "coalesce(text, ''))"
)
SQLITE_STATEMENTS = (
    # The FTS table's rowid is the report's rowid (so triggers find the row by key); report_id is
    # stored unindexed for the join back.
    "CREATE VIRTUAL TABLE reports_fts USING fts5(report_id UNINDEXED, title, summary, text, "
    "tokenize = 'unicode61 remove_diacritics 2')",
    "INSERT INTO reports_fts (rowid, report_id, title, summary, text) "
    "SELECT rowid, report_id, title, summary, text FROM reports",
    "CREATE TRIGGER reports_fts_insert AFTER INSERT ON reports BEGIN "
    "INSERT INTO reports_fts (rowid, report_id, title, summary, text) "
    "VALUES (new.rowid, new.report_id, new.title, new.summary, new.text); END",
    "CREATE TRIGGER reports_fts_delete AFTER DELETE ON reports BEGIN "
    "DELETE FROM reports_fts WHERE rowid = old.rowid; END",
    "CREATE TRIGGER reports_fts_update AFTER UPDATE OF report_id, title, summary, text ON reports BEGIN "
    "DELETE FROM reports_fts WHERE rowid = old.rowid; "
    "INSERT INTO reports_fts (rowid, report_id, title, summary, text) "
    "VALUES (new.rowid, new.report_id, new.title, new.summary, new.text); END",
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in SQLITE_STATEMENTS:
            op.execute(statement)
    elif dialect == "postgresql":
        op.execute(f"CREATE INDEX ix_reports_fulltext ON reports USING gin ({PG_DOCUMENT})")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("reports_fts_insert", "reports_fts_delete", "reports_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS reports_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_reports_fulltext")
