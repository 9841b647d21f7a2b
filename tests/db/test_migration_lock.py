"""Tasks that start together on an empty PostgreSQL database migrate one after the other (advisory
lock), instead of racing to create alembic_version (UniqueViolation)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import make_url, text

from biotracker.config import load_settings
from biotracker.db.engine import make_engine, migrate


@pytest.mark.postgres
def test_concurrent_migrations_on_an_empty_database_all_succeed(tmp_path, postgres_url, postgres_cluster):
    import psycopg

    name = make_url(postgres_url).database
    with psycopg.connect(postgres_cluster.url("postgres", "postgresql"), autocommit=True) as conn:
        # A race shows as an error within a minute instead of sessions waiting on each other for ever.
        conn.execute(f"ALTER DATABASE \"{name}\" SET lock_timeout = '60s'")
    engines = [make_engine(load_settings({}, home=str(tmp_path), database_url=postgres_url)) for _ in range(4)]
    with ThreadPoolExecutor(len(engines)) as pool:
        results = list(pool.map(migrate, engines))
    assert results == [None] * len(engines)
    with engines[0].connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
