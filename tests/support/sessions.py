"""Requests of a test app take their sessions from the test's rolled-back connection."""

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.database.engines import AsyncReadSession, make_read_sessionmaker
from service.database.session import get_read_sessionmaker, get_sessionmaker


def bind_sessions(
    app: FastAPI,
    sessionmaker: async_sessionmaker[AsyncSession],
    read_sessionmaker: async_sessionmaker[AsyncReadSession] | None = None,
) -> None:
    """Override the two session providers (`app.dependency_overrides`, as FastAPI's docs
    teach): writes through `sessionmaker`; reads join the same connection without savepoints of
    their own (they never commit), unless `read_sessionmaker` is given."""
    if read_sessionmaker is None:
        connection = sessionmaker.kw["bind"]
        assert isinstance(connection, AsyncConnection)
        read_sessionmaker = make_read_sessionmaker(
            connection, join_transaction_mode="rollback_only"
        )
    reads = read_sessionmaker

    async def writes_here() -> async_sessionmaker[AsyncSession]:
        return sessionmaker

    async def reads_here() -> async_sessionmaker[AsyncReadSession]:
        return reads

    app.dependency_overrides[get_sessionmaker] = writes_here
    app.dependency_overrides[get_read_sessionmaker] = reads_here


def unbind_sessions(app: FastAPI) -> None:
    app.dependency_overrides.pop(get_sessionmaker, None)
    app.dependency_overrides.pop(get_read_sessionmaker, None)
