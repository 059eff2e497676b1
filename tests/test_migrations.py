"""The migrations build exactly the models' schema and round-trip on both backends."""

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from service.database.engines import create_engine
from service.models import metadata
from service.posts.migration_filters import include_object
from tests.support import databases
from tests.support.migrations import run_alembic
from tests.support.settings import make_settings


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "render_as_batch": connection.dialect.name == "sqlite",
            # Hand-made search objects (tsvector, GINs, FTS5) are not modelled: see the module.
            "include_object": include_object,
        },
    )
    return list(compare_metadata(context, metadata))


async def test_models_and_migrations_do_not_drift(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        assert await connection.run_sync(_diff) == []


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


async def _round_trip(url: str) -> None:
    engine = create_engine(url, make_settings(url), role="migrations-test")
    try:
        async with engine.begin() as connection:
            await run_alembic(connection, "upgrade", "head")
            upgraded = await connection.run_sync(_tables)
            await run_alembic(connection, "downgrade", "base")
            assert await connection.run_sync(_tables) <= {"sqlite_sequence"}
            await run_alembic(connection, "upgrade", "head")
            assert await connection.run_sync(_tables) == upgraded
            assert await connection.run_sync(_diff) == []
        assert set(metadata.tables) <= upgraded
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade_round_trip(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        await _round_trip(f"sqlite+aiosqlite:///{tmp_path / 'round-trip.db'}")
        return
    async with databases.postgres_database("roundtrip") as url:
        await _round_trip(url)
