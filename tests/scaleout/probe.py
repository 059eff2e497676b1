"""Test-only app pieces: probe routes (never in production) and an app factory for uvicorn."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text

from service.database.session import DATABASE, ReadSessionDep, SessionDep
from service.main import create_app
from service.replication.replicas import REPLICAS
from service.settings import Settings


def add_probe_routes(app: FastAPI) -> None:
    """Test-only routes (never in production): where a session runs, and slow queries."""

    @app.get("/_test/where")
    async def where_read(session: ReadSessionDep) -> dict[str, Any]:
        connection = await session.connection()
        row = (await connection.execute(text("SELECT pg_is_in_recovery(), pg_backend_pid()"))).one()
        return {"replica": row[0], "pid": row[1]}

    @app.post("/_test/where")
    async def where_write(session: SessionDep) -> dict[str, Any]:
        connection = await session.connection()
        row = (await connection.execute(text("SELECT pg_is_in_recovery(), pg_backend_pid()"))).one()
        return {"replica": row[0], "pid": row[1]}

    @app.get("/_test/sleep")
    async def sleep_read(session: ReadSessionDep, seconds: float = 1.0) -> dict[str, bool]:
        await (await session.connection()).execute(text("SELECT pg_sleep(:s)"), {"s": seconds})
        return {"ok": True}

    @app.post("/_test/sleep")
    async def sleep_write(session: SessionDep, seconds: float = 1.0) -> dict[str, bool]:
        await (await session.connection()).execute(text("SELECT pg_sleep(:s)"), {"s": seconds})
        return {"ok": True}

    @app.get("/_test/conflict")
    async def conflict_read(session: ReadSessionDep, seconds: float = 8.0) -> dict[str, Any]:
        """Holds a lock on `posts` for `seconds`, but only on a replica."""
        statement = text(
            "SELECT pg_is_in_recovery(), count(*) FROM posts,"
            " pg_sleep(CASE WHEN pg_is_in_recovery() THEN :s ELSE 0 END)"
        )
        row = (await (await session.connection()).execute(statement, {"s": seconds})).one()
        return {"replica": row[0]}

    @app.get("/_test/autocommit")
    async def autocommit_read(session: ReadSessionDep) -> dict[str, Any]:
        """True when the read ran without BEGIN (no transaction open after its query)."""
        connection = await session.connection()
        replica = (await connection.execute(text("SELECT pg_is_in_recovery()"))).scalar_one()
        driver: Any = (await connection.get_raw_connection()).driver_connection
        return {"autocommit": not driver.is_in_transaction(), "replica": replica}

    @app.get("/_test/pool")
    async def pool() -> dict[str, Any]:
        return DATABASE.of(app).stats() | {"replicas": REPLICAS.of(app).report()}


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """create_app(settings) with the probe routes, lifespan running."""
    app = create_app(settings)
    add_probe_routes(app)
    async with app.router.lifespan_context(app):
        yield app


def create_probe_app() -> FastAPI:
    """`uvicorn --factory tests.scaleout.probe:create_probe_app` (settings from the environment)."""
    app = create_app(Settings(_env_file=None))
    add_probe_routes(app)
    return app
