"""Hot reads below the ORM: a Core SELECT compiled once, run on the request's read connection.

Statements run this way carry their own soft-delete conditions (the ORM filter does not see
them), and their parameters must be values the driver takes as they are (ints, strings, aware
datetimes): on PostgreSQL no bind processors run."""

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import Select
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.database.engines import DRIVER_READS
from service.database.guard import slot_of
from service.database.session import DATABASE, DATABASE_ERRORS, ReadSessionMakerDep, router_of
from service.kit.http.answers import declares

Row = Mapping[str, Any]


class _DriverStatement:
    """The per-statement object cursor-execute listeners keep their state on."""


class CompiledRead:
    """One read: `statements` per dialect name, "default" for the others."""

    def __init__(
        self, default: Select[Any], *, driver: bool = True, **per_dialect: Select[Any]
    ) -> None:
        self.statements = {"default": default, **per_dialect}
        self.driver = driver
        """False: always SQLAlchemy Core (parameters that need bind processing, e.g. JSON)."""
        self._driver_sql: tuple[str, tuple[str, ...]] | None = None

    def _compiled(self, dialect: Dialect) -> tuple[str, tuple[str, ...]]:
        """asyncpg's SQL ($1, $2, ...) and the parameter names in order, compiled once."""
        if self._driver_sql is None:
            statement = self.statements.get(dialect.name, self.statements["default"])
            compiled = statement.compile(dialect=dialect)
            if compiled.literal_execute_params or compiled.post_compile_params:
                raise ValueError("expanding or literal-execute parameters need the Core path")
            if any(compiled.binds[n].value is not None for n in compiled.positiontup or ()):
                # A literal that became a parameter: the driver would not get its value.
                raise ValueError("only named parameters without values run on the driver")
            self._driver_sql = (compiled.string, tuple(compiled.positiontup or ()))
        return self._driver_sql

    async def all(self, reader: AsyncConnection | AsyncSession, **params: Any) -> Sequence[Row]:
        connection = reader if isinstance(reader, AsyncConnection) else await reader.connection()
        sync = connection.sync_connection
        assert sync is not None
        if self.driver and sync.get_execution_options().get(DRIVER_READS):
            sql, names = self._compiled(connection.dialect)
            # The checked-out connection's own asyncpg connection; only a connection that must
            # reconnect needs the (greenlet) round trip of get_raw_connection().
            raw = sync.connection if not sync.invalidated else await connection.get_raw_connection()
            driver: Any = raw.driver_connection
            args = [params[n] for n in names]
            # Statement listeners (metrics, slow-query log, tracing, the tests' statement
            # counter) see this statement as if SQLAlchemy had run it.
            context = _DriverStatement()
            sync.dispatch.before_cursor_execute(sync, None, sql, args, context, False)
            try:
                rows: Sequence[Row] = await driver.fetch(sql, *args)
            except asyncpg.PostgresError:
                raise  # the server's answer, classified by its SQLSTATE (kit/db/errors.py)
            except Exception as error:
                # The connection itself failed (closed, its protocol broken by an earlier
                # failure): as SQLAlchemy's own path does, the pool drops it and the error
                # says so, so the request is a 503 with Retry-After, never a 500.
                await connection.invalidate(error)
                raise sa_exc.InterfaceError(
                    sql, args, error, connection_invalidated=True
                ) from error
            sync.dispatch.after_cursor_execute(sync, None, sql, args, context, False)
            return rows
        statement = self.statements.get(connection.dialect.name, self.statements["default"])
        mapped: Sequence[Row] = (await connection.execute(statement, params)).mappings().all()
        return mapped

    async def first(self, reader: AsyncConnection | AsyncSession, **params: Any) -> Row | None:
        rows = await self.all(reader, **params)
        return rows[0] if rows else None


@asynccontextmanager
async def primary_connection(
    request: Request, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[AsyncConnection]:
    """A bare connection to the primary for a lookup outside the request's session (where the
    pool autocommits, one statement and no transaction), in the request's guard slot."""
    bind = sessionmaker.kw.get("bind")
    async with slot_of(request):
        if isinstance(bind, AsyncConnection):  # the tests bind their rolled-back connection
            yield bind
            return
        async with DATABASE.of(request).reader.connect() as connection:
            yield connection


@declares(*DATABASE_ERRORS)
async def get_read_connection(
    request: Request, sessionmaker: ReadSessionMakerDep
) -> AsyncIterator[AsyncConnection]:
    """A hot read's connection: the reader a `ReadSessionDep` would use (replica or primary,
    same guard slot and fail-over), without a Session around it (docs/performance.md)."""
    bind = sessionmaker.kw.get("bind")
    if isinstance(bind, AsyncConnection):  # the tests bind their rolled-back connection
        async with slot_of(request):
            yield bind
        return
    assert isinstance(bind, AsyncEngine)
    async with (
        slot_of(request),
        router_of(request).reading(request, None),
        bind.connect() as connection,
    ):
        yield connection


ReadConnection = Annotated[AsyncConnection, Depends(get_read_connection, scope="function")]
