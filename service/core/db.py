"""Engines, pool tuning, the soft-delete filter and the one place where transactions commit."""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.orm.util import LoaderCriteriaOption
from sqlmodel import SQLModel, col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.core.errors import ServiceUnavailable
from service.core.model_base import SoftDeleteMixin
from service.core.settings import Settings

INCLUDE_DELETED = "include_deleted"
"""Execution option that lifts the soft-delete filter (restore and admin paths only)."""


def create_engine(url: str, settings: Settings, *, role: str = "primary") -> AsyncEngine:
    if url.startswith("sqlite"):
        return _create_sqlite_engine(url, settings)
    connect_args: dict[str, Any] = {
        "server_settings": {
            "application_name": f"inkwell-{role}",
            "statement_timeout": str(settings.db_statement_timeout_ms),
            "jit": "off",
        },
        "command_timeout": settings.db_command_timeout,
        "timeout": settings.db_connect_timeout,
    }
    engine = create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        pool_recycle=settings.db_pool_recycle,
        pool_pre_ping=settings.db_pool_ping_idle_seconds == 0,
        connect_args=connect_args,
        echo=settings.db_echo,
    )
    if settings.db_pool_ping_idle_seconds > 0:
        _ping_when_idle(engine, settings.db_pool_ping_idle_seconds)
    return engine


def _ping_when_idle(engine: AsyncEngine, idle_seconds: float) -> None:
    """Pre-ping only connections that sat idle in the pool for more than `idle_seconds`.

    asyncpg's pre-ping is three round trips (BEGIN; ping; ROLLBACK) on every checkout: half
    the round trips of a GET by id (docs/performance.md). A connection used a moment ago is
    alive; one that idled (e.g. across a database restart) is checked as before, and a failed
    ping invalidates the whole pool, exactly like `pool_pre_ping`.
    """
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "checkin")
    def _checked_in(_: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _: Any) -> None:
        since = record.info.get("checked_in_at")
        if since is None or time.monotonic() - since < idle_seconds:
            return
        try:
            dbapi_connection.ping()
        except Exception as error:
            raise InvalidatePoolError("idle connection failed its ping") from error


def _create_sqlite_engine(url: str, settings: Settings) -> AsyncEngine:
    engine = create_async_engine(
        url,
        connect_args={"timeout": settings.db_sqlite_busy_timeout_ms / 1000},
        echo=settings.db_echo,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _: Any) -> None:
        # Let SQLAlchemy own BEGIN (see "begin" below) so SAVEPOINTs behave as on PostgreSQL.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(settings.db_sqlite_busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN")

    return engine


def make_sessionmaker(bind: AsyncEngine | Any, **kwargs: Any) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(bind, class_=AsyncSession, expire_on_commit=False, **kwargs)


@cache
def _soft_delete_criteria() -> tuple[LoaderCriteriaOption, ...]:
    """One criteria option per mapped soft-deletable class, built once after mapping."""
    mapped = [m.class_ for m in SQLModel._sa_registry.mappers]
    return tuple(
        with_loader_criteria(cls, col(cls.deleted_at).is_(None), include_aliases=True)
        for cls in mapped
        if issubclass(cls, SoftDeleteMixin)
    )


@event.listens_for(Session, "do_orm_execute")
def _hide_soft_deleted(state: ORMExecuteState) -> None:
    if (
        state.is_select
        and not state.is_column_load
        and not state.is_relationship_load
        and not state.execution_options.get(INCLUDE_DELETED, False)
    ):
        state.statement = state.statement.options(*_soft_delete_criteria())


@dataclass
class Database:
    """The engines of one process; created and disposed by the application lifespan."""

    primary: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]

    @classmethod
    def from_settings(cls, settings: Settings) -> "Database":
        primary = create_engine(settings.database_url, settings)
        return cls(primary=primary, sessionmaker=make_sessionmaker(primary))

    async def dispose(self) -> None:
        await self.primary.dispose()


async def get_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    """The only dependency tests override (to bind sessions inside a rolled-back transaction).

    `async def` on purpose: FastAPI runs a plain `def` dependency in the thread pool, a
    thread hop (and GIL contention) on every request for what is an attribute lookup.
    """
    db: Database = request.app.state.db
    return db.sessionmaker


SessionMakerDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessionmaker)]


class SessionGuard:
    """FIFO admission in front of the pool: at most `limit` sessions of this process at once.

    Requests beyond the pool size queue here (asyncio.Semaphore wakes waiters in order) instead
    of in the pool, where over-the-size requests churned overflow connections (connect, use,
    close) and waiters starved (sqlalchemy#7679): that is where the p99 tails came from. A
    request that cannot get a slot within the pool timeout is a 503 with Retry-After.
    """

    def __init__(self, limit: int, timeout: float, retry_after: int) -> None:
        self.limit, self.timeout, self.retry_after = limit, timeout, retry_after
        self._slots = asyncio.Semaphore(limit)

    @classmethod
    def from_settings(cls, settings: Settings) -> "SessionGuard":
        limit = settings.db_session_limit or settings.db_pool_size
        return cls(limit, settings.db_pool_timeout, settings.retry_after_seconds)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        try:
            async with asyncio.timeout(self.timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise ServiceUnavailable(
                "The database is busy; retry shortly.", retry_after=self.retry_after
            ) from None
        try:
            yield
        finally:
            self._slots.release()


async def get_session(
    request: Request, sessionmaker: SessionMakerDep
) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, rolled back if it raises."""
    guard: SessionGuard | None = getattr(request.app.state, "session_guard", None)
    async with (
        guard.slot() if guard is not None else nullcontext(),
        sessionmaker() as session,
        session.begin(),
    ):
        yield session


# scope="function": the commit runs before the response is sent, so a 2xx is durable.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
