"""Run Alembic commands on a connection the test already holds (inside its event loop)."""

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
    from service.kit.db.engines import create_engine
    from tests.support.settings import make_settings

    engine = create_engine(url, make_settings(url), role="migrate")
    async with engine.begin() as connection:
        await run_alembic(connection, "upgrade", "head")
    await engine.dispose()
    return url
