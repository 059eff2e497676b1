"""Requests of a test app take their sessions from the test's rolled-back connection."""

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.db.engines import make_read_sessionmaker
from service.kit.db.session import REQUEST_SESSIONS, RequestSessions


def bind_sessions(app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """Writes through `sessionmaker`; reads join the same connection without savepoints of
    their own (they never commit), as the suite's `client` fixture does."""
    connection = sessionmaker.kw["bind"]
    assert isinstance(connection, AsyncConnection)
    reads = make_read_sessionmaker(connection, join_transaction_mode="rollback_only")
    REQUEST_SESSIONS.put(app, RequestSessions(sessionmaker, reads))
