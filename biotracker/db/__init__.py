"""The store: SQLAlchemy 2 tables, engine, migrations (scripts in sql/migrations) and upserts."""

from biotracker.db.engine import make_engine, migrate, open_store, row_counts
from biotracker.db.upsert import upsert

__all__ = ["make_engine", "migrate", "open_store", "row_counts", "upsert"]
