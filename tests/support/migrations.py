"""Run Alembic commands on a connection the test already holds (inside its event loop)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.paths import ROOT


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["configure_logger"] = False
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def run_alembic(connection: AsyncConnection, name: str, *args: Any) -> None:
    def _run(sync_connection: Connection) -> None:
        getattr(command, name)(alembic_config(sync_connection), *args)

    await connection.run_sync(_run)


async def migrated_database(url: str) -> str:
    """Bring the database at `url` to head (an engine of its own, disposed); returns `url`."""
    from service.database.engines import create_engine
    from tests.support.settings import make_settings

    engine = create_engine(url, make_settings(url), role="migrate")
    async with engine.begin() as connection:
        await run_alembic(connection, "upgrade", "head")
    await engine.dispose()
    return url


@asynccontextmanager
async def backend_database(backend: str, directory: Path, purpose: str) -> AsyncIterator[str]:
    """A migrated database of its own where commits are real: a SQLite file in `directory`,
    else a throw-away PostgreSQL database (dropped at exit)."""
    from tests.support import databases

    if backend == "sqlite":
        yield await migrated_database(f"sqlite+aiosqlite:///{directory / f'{purpose}.db'}")
        return
    async with databases.postgres_database(purpose) as url:
        yield await migrated_database(url)
