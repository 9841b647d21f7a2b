"""Engine creation and schema migration: one place that knows SQLite from PostgreSQL."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, ProgrammingError

from biotracker.config import REPO_DIR, Settings, prepare_home
from biotracker.db.tables import ALL_TABLES
from biotracker.errors import ConfigError

log = logging.getLogger(__name__)
MIGRATIONS_DIR = REPO_DIR / "sql" / "migrations"
#: PostgreSQL advisory lock key held while migrating ("biotrack" in ASCII), so tasks starting
#: together on an empty database migrate one after the other instead of racing on alembic_version.
MIGRATION_LOCK_KEY = 0x62696F747261636B


_URL_ADVICE = (
    "set BIOTRACKER_DATABASE_URL to e.g. sqlite:////srv/biotracker/biotracker.db or "
    "postgresql+psycopg://user@host:5432/biotracker"
)
#: Seconds to wait for a database server before telling the operator it is unreachable.
CONNECT_TIMEOUT_S = 10


def _shown(url: str) -> str:
    """The URL as an error message may show it: without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparseable URL)"


def _sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for in-memory databases and other dialects."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    if str(parsed.database).startswith("file:"):
        return None
    return Path(parsed.database)


def make_engine(settings: Settings) -> Engine:
    """Create the engine for ``settings``; for SQLite, enable foreign keys and WAL.

    The SQLite file's folder must exist: a URL naming a folder that does not exist is a typo more
    often than a wish, so it is refused rather than created. (The default database lives in
    ``BIOTRACKER_HOME``, which Biotracker creates.)
    """
    url = settings.resolved_database_url
    if not settings.database_url:
        prepare_home(settings)
    try:
        sqlite_file = _sqlite_file(url)
        connect_args = (
            {"connect_timeout": CONNECT_TIMEOUT_S}
            if make_url(url).get_backend_name() == "postgresql" and "connect_timeout" not in url
            else {}
        )
        engine = create_engine(url, future=True, connect_args=connect_args)
    except Exception as exc:  # unparseable URL, unknown dialect or missing driver
        raise ConfigError(f"cannot use database URL {_shown(url)}: {exc}; {_URL_ADVICE}") from exc
    if sqlite_file is not None and not sqlite_file.parent.is_dir():
        raise ConfigError(
            f"the folder {sqlite_file.parent} of the SQLite database in BIOTRACKER_DATABASE_URL does not "
            f"exist; create it first or {_URL_ADVICE}"
        )
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
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
    """Bring the database to the newest schema (Alembic ``upgrade head``); safe to call every run.

    A database that refuses the change (read-only file, a user without the right to create tables)
    is a :class:`ConfigError` saying so; any other failure keeps its traceback (it is a bug).
    """
    cfg = alembic_config(engine)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":  # released at commit; SQLite serialises writers itself
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "heads")  # every branch: parallel migrations off one parent until chained
    except (OperationalError, ProgrammingError) as exc:
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
        refused = isinstance(exc, OperationalError) or "permission denied" in reason.lower()
        if not refused:
            raise
        raise ConfigError(
            f"cannot bring the database {_shown(engine.url.render_as_string(hide_password=False))} "
            f"up to date: {reason}. Check that it is writable and that its user may create and alter tables"
        ) from exc
    log.info("database schema at head (%s)", engine.url.render_as_string(hide_password=True))


def check_connection(engine: Engine) -> None:
    """Connect once, so an unreachable or unusable database is one clear error before any work."""
    try:
        with engine.connect():
            pass
    except DBAPIError as exc:
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
        raise ConfigError(
            f"cannot connect to the database {_shown(engine.url.render_as_string(hide_password=False))}: "
            f"{reason}. Check that the server is running and reachable and that "
            "BIOTRACKER_DATABASE_URL is right"
        ) from exc


def open_store(settings: Settings) -> Engine:
    """Engine with the schema migrated: what every stage starts from."""
    prepare_home(settings)
    engine = make_engine(settings)
    check_connection(engine)
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
