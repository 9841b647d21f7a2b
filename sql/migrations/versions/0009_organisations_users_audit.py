"""access model: organisations, users, API tokens, sessions, login throttling, append-only audit log;
reports gain their originating organisation, share lists and a withdrawal tombstone

Revision ID: 0009
Revises: 0003
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0006"
branch_labels = None
depends_on = None

APPEND_ONLY = "audit_log is append-only: audit rows cannot be updated or deleted"


def upgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("originator_org", sa.String(length=100), nullable=True,
                                   comment="organisation that originated the record"))
        batch.add_column(sa.Column("share_with", sa.JSON(), nullable=True,
                                   comment="AMBER: organisations the originator shares it with"))
        batch.add_column(sa.Column("share_users", sa.JSON(), nullable=True,
                                   comment="RED: usernames the originator names"))
        batch.add_column(sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True,
                                   comment="tombstone: the originator withdrew the report"))
        batch.create_index("ix_reports_originator_org", ["originator_org"], unique=False)
        batch.create_index("ix_reports_country_iso3", ["country_iso3"], unique=False)
    op.create_table(
        "organisations",
        sa.Column("name", sa.String(length=100), nullable=False, comment="short unique name, e.g. NCB-NL"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "users",
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("org", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False, comment="analyst, contributor, operator, admin"),
        sa.Column("password_hash", sa.Text(), nullable=False, comment="Argon2id hash"),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org"], ["organisations.name"]),
        sa.PrimaryKeyConstraint("username"),
    )
    op.create_index("ix_users_org", "users", ["org"], unique=False)
    op.create_table(
        "api_tokens",
        sa.Column("token_id", sa.String(length=16), nullable=False,
                  comment="public handle to list and revoke the token"),
        sa.Column("token_sha256", sa.String(length=64), nullable=False, comment="sha256 of the secret token"),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False, comment="read | write"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["username"], ["users.username"]),
        sa.PrimaryKeyConstraint("token_id"),
        sa.UniqueConstraint("token_sha256"),
    )
    op.create_index("ix_api_tokens_username", "api_tokens", ["username"], unique=False)
    op.create_table(
        "sessions",
        sa.Column("session_sha256", sa.String(length=64), nullable=False,
                  comment="sha256 of the random session id"),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["username"], ["users.username"]),
        sa.PrimaryKeyConstraint("session_sha256"),
    )
    op.create_index("ix_sessions_username", "sessions", ["username"], unique=False)
    op.create_table(
        "login_failures",
        sa.Column("username", sa.String(length=100), nullable=False,
                  comment="as typed: unknown names are throttled too"),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("username"),
    )
    op.create_table(
        "audit_log",
        sa.Column("audit_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False, comment="username, or '-' when anonymous"),
        sa.Column("org", sa.String(length=100), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False,
                  comment="login, login_failed, token_use, read, write, ..."),
        sa.Column("record_ids", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False,
                  comment="ok, denied, not_found, invalid, locked"),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("remote", sa.String(length=64), nullable=True, comment="client address"),
        sa.PrimaryKeyConstraint("audit_id"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"], unique=False)
    op.create_index("ix_audit_log_actor", "audit_log", ["actor"], unique=False)
    _forbid_audit_changes()


def _forbid_audit_changes() -> None:
    """Append-only in the database itself, so no application bug (or SQL shell) rewrites history."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )
        return
    for event in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
            f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    else:
        op.drop_table("audit_log")
    op.drop_table("login_failures")
    op.drop_index("ix_sessions_username", table_name="sessions")
    op.drop_table("sessions")
    op.drop_index("ix_api_tokens_username", table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_index("ix_users_org", table_name="users")
    op.drop_table("users")
    op.drop_table("organisations")
    with op.batch_alter_table("reports") as batch:
        batch.drop_index("ix_reports_country_iso3")
        batch.drop_index("ix_reports_originator_org")
        for name in ("withdrawn_at", "share_users", "share_with", "originator_org"):
            batch.drop_column(name)
