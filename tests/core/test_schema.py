"""Models and migrations agree (both backends); hand-made search objects exist; round trip."""

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from service.core.db import create_engine
from service.core.migration_filters import include_object
from service.core.settings import Settings
from service.models import metadata
from tests.conftest import make_settings
from tests.support import databases
from tests.support.migrations import run_alembic

DOMAIN_TABLES = {"profiles", "tags", "post_tags", "post_likes", "comments", "follows"}


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={"include_object": include_object, "compare_type": True, "target_metadata": metadata},
    )
    return list(compare_metadata(context, metadata))


async def test_models_and_migrations_do_not_drift(connection: AsyncConnection) -> None:
    assert await connection.run_sync(_diff) == []


async def test_search_objects_exist(connection: AsyncConnection, backend: str) -> None:
    if backend == "postgresql":
        names = await connection.execute(
            text("SELECT indexname FROM pg_indexes WHERE tablename = 'posts'")
        )
        assert {"ix_posts_search_vector", "ix_posts_metadata"} <= set(names.scalars())
    else:
        names = await connection.execute(
            text("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")
        )
        expected = {"posts_fts", "posts_fts_ai", "posts_fts_ad", "posts_fts_au"}
        assert expected <= set(names.scalars())


async def _round_trip(settings: Settings) -> None:
    engine = create_engine(settings.database_url, settings, role="tests")
    try:
        async with engine.begin() as conn:
            await run_alembic(conn, "upgrade", "head")
        async with engine.begin() as conn:
            await run_alembic(conn, "downgrade", "7fa302288c98")
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: c.dialect.get_table_names(c)))
            assert not tables & DOMAIN_TABLES
        async with engine.begin() as conn:
            await run_alembic(conn, "upgrade", "head")
            assert await conn.run_sync(_diff) == []
    finally:
        await engine.dispose()


async def test_domain_migration_round_trips(backend: str, tmp_path: Any) -> None:
    if backend == "sqlite":
        await _round_trip(make_settings(f"sqlite+aiosqlite:///{tmp_path / 'rt.db'}"))
        return
    async with databases.postgres_database("roundtrip") as url:
        await _round_trip(make_settings(url))


def test_every_foreign_key_leads_an_index() -> None:
    """Cascades and joins on a foreign key never scan the whole child table."""
    missing = []
    for table in metadata.tables.values():
        leading = {tuple(c.name for c in index.columns)[:1] for index in table.indexes}
        leading.add(tuple(c.name for c in table.primary_key.columns)[:1])
        for constraint in table.constraints:
            cols = tuple(getattr(constraint, "columns", ()))
            if (
                getattr(constraint, "unique", False)
                or type(constraint).__name__ == "UniqueConstraint"
            ):
                leading.add(tuple(c.name for c in cols)[:1])
        for fk in table.foreign_keys:
            if (fk.parent.name,) not in leading:
                missing.append(f"{table.name}.{fk.parent.name}")
    assert missing == []
