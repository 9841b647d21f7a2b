"""Engine creation and schema migration: one place that knows SQLite from PostgreSQL."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, func, inspect, select, text

from biotracker.config import REPO_DIR, Settings
from biotracker.db.tables import ALL_TABLES
from biotracker.errors import ConfigError

log = logging.getLogger(__name__)
MIGRATIONS_DIR = REPO_DIR / "sql" / "migrations"
#: PostgreSQL advisory lock key held while migrating ("biotrack" in ASCII), so tasks starting
#: together on an empty database migrate one after the other instead of racing on alembic_version.
MIGRATION_LOCK_KEY = 0x62696F747261636B


def make_engine(settings: Settings) -> Engine:
    """Create the engine for ``settings``; for SQLite, create the folder and enable foreign keys."""
    url = settings.resolved_database_url
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(url, future=True)
    except Exception as exc:  # bad URL or missing driver
        raise ConfigError(
            f"cannot use database URL {url!r}: {exc}. Set BIOTRACKER_DATABASE_URL to e.g. "
            "sqlite:///var/biotracker.db or postgresql+psycopg://user@host:5432/biotracker"
        ) from exc
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

    return engine


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the database to the newest schema (Alembic ``upgrade head``); safe to call every run."""
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # released at commit; SQLite serialises writers itself
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    log.info("database schema at head (%s)", engine.url.render_as_string(hide_password=True))


def open_store(settings: Settings) -> Engine:
    """Engine with the schema migrated: what every stage starts from."""
    engine = make_engine(settings)
    migrate(engine)
    return engine


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows per table: the demo prints them and the idempotency tests compare them."""
    names = set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in ALL_TABLES
            if t.name in names
        }
