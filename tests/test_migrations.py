"""`flask db upgrade` builds exactly the schema of the models, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from tests.server import flask, fresh_postgres_database, server_env
from workshop.extensions import db
from workshop.models import Workshop  # noqa: F401  (registers the tables on db.metadata)


def upgrade_and_compare(url: str) -> list:
    result = flask(server_env(url, 5000), "db", "upgrade")
    assert result.returncode == 0, result.stdout + result.stderr
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={
                "compare_type": True, "compare_server_default": True})
            diff = compare_metadata(context, db.metadata)
            tables = set(inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert tables == set(db.metadata.tables) | {"alembic_version"}
    return diff


def test_migrations_build_the_models_schema_on_sqlite(tmp_path):
    assert upgrade_and_compare(f"sqlite:///{tmp_path / 'migrated.sqlite3'}") == []


@pytest.mark.postgres
def test_migrations_build_the_models_schema_on_postgresql(postgres_database):
    with fresh_postgres_database(postgres_database) as url:
        assert upgrade_and_compare(url) == []
