"""Engines, pool tuning, the soft-delete filter and the one place where transactions commit."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.orm.util import LoaderCriteriaOption
from sqlmodel import SQLModel, col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.core.model_base import SoftDeleteMixin
from service.core.observability import InstrumentedAsyncQueuePool, instrument_engine
from service.core.settings import Settings

INCLUDE_DELETED = "include_deleted"
"""Execution option that lifts the soft-delete filter (restore and admin paths only)."""


def create_engine(url: str, settings: Settings, *, role: str = "primary") -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = _create_sqlite_engine(url, settings)
    else:
        engine = _create_postgres_engine(url, settings, role)
    instrument_engine(engine, settings, role=role)
    return engine


def _create_postgres_engine(url: str, settings: Settings, role: str) -> AsyncEngine:
    connect_args: dict[str, Any] = {
        "server_settings": {
            "application_name": f"inkwell-{role}",
            "statement_timeout": str(settings.db_statement_timeout_ms),
            "jit": "off",
        },
        "command_timeout": settings.db_command_timeout,
        "timeout": settings.db_connect_timeout,
    }
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        pool_recycle=settings.db_pool_recycle,
        pool_pre_ping=True,
        poolclass=InstrumentedAsyncQueuePool,
        connect_args=connect_args,
        echo=settings.db_echo,
    )


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


def get_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    """The only dependency tests override (to bind sessions inside a rolled-back transaction)."""
    db: Database = request.app.state.db
    return db.sessionmaker


SessionMakerDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessionmaker)]


async def get_session(sessionmaker: SessionMakerDep) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, rolled back if it raises."""
    async with sessionmaker() as session, session.begin():
        yield session


# scope="function": the commit runs before the response is sent, so a 2xx is durable.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
