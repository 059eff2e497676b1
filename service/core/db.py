"""Engines, pool tuning, the soft-delete filter and the one place where transactions commit."""

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, MutableMapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.engine import Connection, ExceptionContext
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.orm.util import LoaderCriteriaOption
from sqlmodel import SQLModel, col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.core.consistency import COMMIT_LSN, FORCE_PRIMARY, MIN_LSN, ReplicaReadFailed
from service.core.errors import (
    ServiceUnavailable,
    is_disconnect_error,
    is_pool_timeout,
    is_unavailable,
)
from service.core.model_base import SoftDeleteMixin
from service.core.observability import (
    InstrumentedAsyncQueuePool,
    instrument_engine,
    record_route,
)
from service.core.routing import (
    PRIMARY_LSN,
    Replica,
    ReplicaSet,
    is_recovery_conflict,
    parse_lsn,
    pool_status,
)
from service.core.settings import Settings

log = logging.getLogger("inkwell.db")

INCLUDE_DELETED = "include_deleted"
"""Execution option that lifts the soft-delete filter (restore and admin paths only)."""

SQLITE_BEGIN = "sqlite_begin"
"""Connection execution option: `DEFERRED` (default) or `IMMEDIATE` SQLite transactions."""
WROTE = "inkwell.wrote"
"""Session.info flag: the transaction flushed or executed a non-SELECT statement."""
READ_ONLY = "inkwell.read_only"
"""Session.info flag: a ReadSessionDep session (ORM writes through it are refused)."""
_READ_REPLICA = "inkwell.read_replica"


def create_engine(
    url: str, settings: Settings, *, role: str = "primary", autocommit: bool = False
) -> AsyncEngine:
    """An engine for `url`; `autocommit=True` makes connections run without BEGIN by default."""
    if url.startswith("sqlite"):
        engine = _create_sqlite_engine(url, settings)
    else:
        engine = _create_postgres_engine(url, settings, role=role, autocommit=autocommit)
    instrument_engine(engine, settings, role=role)
    return engine


def _create_postgres_engine(
    url: str, settings: Settings, *, role: str, autocommit: bool
) -> AsyncEngine:
    server_settings = {"application_name": f"inkwell-{role}"}
    connect_args: dict[str, Any] = {
        "command_timeout": settings.db_command_timeout,
        "timeout": settings.db_connect_timeout,
    }
    if settings.db_pgbouncer:
        # Transaction mode hands each transaction to any server connection: no statement cache
        # (asyncpg's nor SQLAlchemy's) and unique statement names, so two clients never clash.
        # statement_timeout/jit would be dropped silently: set them per role on the server.
        connect_args |= {
            "statement_cache_size": 0,
            "prepared_statement_cache_size": 0,
            "prepared_statement_name_func": _unique_statement_name,
        }
    else:
        server_settings |= {
            "statement_timeout": str(settings.db_statement_timeout_ms),
            "jit": "off",
        }
    connect_args["server_settings"] = server_settings
    engine = create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        pool_recycle=settings.db_pool_recycle,
        pool_pre_ping=settings.db_pool_ping_idle_seconds == 0,
        poolclass=InstrumentedAsyncQueuePool,
        connect_args=connect_args,
        echo=settings.db_echo,
        **({"isolation_level": "AUTOCOMMIT"} if autocommit else {}),
    )
    event.listen(engine.sync_engine, "handle_error", _detect_disconnect)
    if settings.db_pool_ping_idle_seconds > 0:
        _ping_when_idle(engine, settings.db_pool_ping_idle_seconds)
    return engine


def _ping_when_idle(engine: AsyncEngine, idle_seconds: float) -> None:
    """Pre-ping only connections that sat idle in the pool for more than `idle_seconds`.

    asyncpg's pre-ping is three round trips (BEGIN; ping; ROLLBACK) on every checkout, more
    than the GET by id itself (docs/performance.md). A connection used a moment ago is alive;
    one that idled (e.g. across a database restart) is checked as before, and a failed ping
    invalidates the whole pool, exactly like `pool_pre_ping`.
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


def _unique_statement_name() -> str:
    return f"__asyncpg_{uuid.uuid4().hex}__"


def _detect_disconnect(context: ExceptionContext) -> None:
    """Server shutdown / terminated backend: invalidate the connection (and the stale pool)."""
    if not context.is_disconnect and is_disconnect_error(context.original_exception):
        context.is_disconnect = True


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
        mode = connection.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

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
    if not state.is_select:
        if state.session.info.get(READ_ONLY) and (
            state.is_insert or state.is_update or state.is_delete
        ):
            raise RuntimeError("a ReadSessionDep session cannot write; use SessionDep")
        state.session.info[WROTE] = True
        return
    if (
        not state.is_column_load
        and not state.is_relationship_load
        and not state.execution_options.get(INCLUDE_DELETED, False)
    ):
        state.statement = state.statement.options(*_soft_delete_criteria())


@event.listens_for(Session, "before_flush")
def _refuse_flush_on_read_session(session: Session, *_: Any) -> None:
    if session.info.get(READ_ONLY):
        raise RuntimeError("a ReadSessionDep session cannot write; use SessionDep")


@event.listens_for(Session, "after_flush")
def _mark_written(session: Session, *_: Any) -> None:
    session.info[WROTE] = True


@dataclass(eq=False)
class Database:
    """The engines of one process; created by the application lifespan, which calls `start()`
    and `dispose()`.

    `primary` is transactional (writes, `primary.begin()`); `reader` serves reads on the primary
    (no replica, fallback). On PostgreSQL without PgBouncer both share ONE pool whose connections
    default to autocommit: a read then costs its queries only (no BEGIN/COMMIT) and the pre-ping
    is a single round trip, while `primary` switches each checkout to READ COMMITTED locally.
    """

    primary: AsyncEngine
    reader: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    read_sessionmaker: async_sessionmaker[AsyncSession]
    replicas: ReplicaSet

    @classmethod
    def from_settings(cls, settings: Settings) -> "Database":
        url = settings.database_url
        lean = not settings.is_sqlite and not settings.db_pgbouncer
        if lean:
            reader = create_engine(url, settings, autocommit=True)
            primary = reader.execution_options(isolation_level="READ COMMITTED")
        else:
            primary = reader = create_engine(url, settings)
            if settings.is_sqlite:
                # Write transactions take SQLite's write lock at BEGIN (waiting up to
                # busy_timeout). A deferred one that reads (the token's user), then writes
                # after another writer committed, fails at once with SQLITE_BUSY (WAL
                # snapshot), which busy_timeout does not retry: concurrent likes were 503s.
                primary = reader.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        replicas = [
            _make_replica(f"replica-{i}", replica_url, settings, autocommit=lean)
            for i, replica_url in enumerate(settings.database_replica_urls)
        ]
        return cls(
            primary=primary,
            reader=reader,
            sessionmaker=make_sessionmaker(primary),
            read_sessionmaker=make_sessionmaker(reader),
            replicas=ReplicaSet(primary=reader, replicas=replicas, settings=settings),
        )

    def start(self) -> None:
        """Start the replica monitor (needs the running loop)."""
        self.replicas.start()

    async def dispose(self) -> None:
        await self.replicas.stop()
        shared = self.primary.sync_engine.pool is self.reader.sync_engine.pool
        await self.reader.dispose()
        if not shared:
            await self.primary.dispose()
        for replica in self.replicas.replicas:
            await replica.engine.dispose()

    def stats(self) -> dict[str, Any]:
        """Pool and replica state for /health/ready and metrics (cheap, no I/O)."""
        return {"primary": {"pool": pool_status(self.primary)}, "replicas": self.replicas.report()}


def _make_replica(name: str, url: str, settings: Settings, *, autocommit: bool) -> Replica:
    engine = create_engine(url, settings, role=name, autocommit=autocommit)
    return Replica(name=name, engine=engine, sessionmaker=make_sessionmaker(engine))


async def get_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    """The write-side override point (tests bind it inside a rolled-back transaction).

    `async def` on purpose, like every per-request dependency: FastAPI runs a plain `def`
    dependency in the thread pool, a thread hop (and GIL contention) per request.
    """
    db: Database = request.app.state.db
    return db.sessionmaker


async def get_read_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    """The read-side override point: a caught-up healthy replica, else the primary."""
    db: Database = request.app.state.db
    scope = request.scope
    if db.replicas.replicas and not scope.get(FORCE_PRIMARY):
        replica = db.replicas.choose(scope.get(MIN_LSN))
        if replica is not None:
            scope[_READ_REPLICA] = replica
            record_route("replica")
            return replica.sessionmaker
    record_route("primary")
    return db.read_sessionmaker


_HOLDS_SLOT = "inkwell.session_slot"


class SessionGuard:
    """FIFO admission in front of the pools: at most `limit` requests of this process use the
    database at once.

    Requests beyond the pool size queue here (asyncio.Semaphore wakes waiters in order) instead
    of in the pool, where over-the-size requests churned overflow connections (connect, use,
    close) and starved waiters (sqlalchemy#7679): that is where the p99 tails came from. A
    request that gets no slot within the pool timeout is a 503 with Retry-After. One slot per
    request, however many sessions it opens, so a request can never wait on itself.
    """

    def __init__(self, limit: int, timeout: float, retry_after: int) -> None:
        self.limit, self.timeout, self.retry_after = limit, timeout, retry_after
        self._slots = asyncio.Semaphore(limit)

    @classmethod
    def from_settings(cls, settings: Settings) -> "SessionGuard":
        limit = settings.db_session_limit or settings.db_pool_size
        return cls(limit, settings.db_pool_timeout, settings.retry_after_seconds)

    @asynccontextmanager
    async def slot(self, scope: MutableMapping[str, Any] | None = None) -> AsyncIterator[None]:
        if scope is not None and scope.get(_HOLDS_SLOT):
            yield
            return
        try:
            async with asyncio.timeout(self.timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise ServiceUnavailable(
                "The database is busy; retry shortly.", retry_after=self.retry_after
            ) from None
        if scope is not None:
            scope[_HOLDS_SLOT] = True
        try:
            yield
        finally:
            if scope is not None:
                scope[_HOLDS_SLOT] = False
            self._slots.release()


def _slot(request: Request) -> AbstractAsyncContextManager[None]:
    guard: SessionGuard | None = getattr(request.app.state, "session_guard", None)
    return guard.slot(request.scope) if guard is not None else nullcontext()


@asynccontextmanager
async def side_session(
    request: Request, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[AsyncSession]:
    """A short session of its own for a lookup outside the request's session (never commits).

    It shares the request's guard slot, so a request never waits on itself.
    """
    async with _slot(request), sessionmaker() as session:
        yield session


SessionMakerDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessionmaker)]
ReadSessionMakerDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_read_sessionmaker)]


async def get_session(
    request: Request, sessionmaker: SessionMakerDep
) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, rolled back if it raises.

    After a commit that wrote, the primary's WAL position becomes the response's consistency
    token (see service/core/consistency.py).
    """
    async with _slot(request), sessionmaker() as session:
        async with session.begin():
            yield session
        if session.info.get(WROTE) and session.get_bind().dialect.name == "postgresql":
            lsn = await _lsn_after_commit(request, session)
            if lsn is not None:
                request.scope[COMMIT_LSN] = lsn


async def _lsn_after_commit(request: Request, session: AsyncSession) -> int | None:
    db: Database = request.app.state.db
    try:
        if session.bind is db.primary:
            # one autocommit statement on the shared pool instead of BEGIN/SELECT/ROLLBACK
            async with db.reader.connect() as connection:
                value = (await connection.exec_driver_sql(PRIMARY_LSN)).scalar_one()
        else:
            connection = await session.connection()
            value = (await connection.exec_driver_sql(PRIMARY_LSN)).scalar_one()
    except Exception as error:  # the write is committed: answer 2xx without a token
        log.warning("no consistency token after commit: %s", type(error).__name__)
        return None
    return parse_lsn(value)


async def get_read_session(
    request: Request, sessionmaker: ReadSessionMakerDep
) -> AsyncIterator[AsyncSession]:
    """A read-only session; never commits. On a replica, failures the primary can absorb
    (unreachable replica, recovery conflict, lost connection) become ReplicaReadFailed, which
    the ConsistencyMiddleware answers by re-running the GET/HEAD once on the primary."""
    replica: Replica | None = request.scope.pop(_READ_REPLICA, None)
    async with _slot(request), sessionmaker() as session:
        session.info[READ_ONLY] = True
        if replica is None:
            yield session
            return
        try:
            await session.connection()  # connect now: a dead replica is known before the handler
            yield session
        except Exception as error:
            if not _replica_can_fail_over(error):
                raise
            if is_unavailable(error):
                db: Database = request.app.state.db
                db.replicas.mark_down(replica, error)
            raise ReplicaReadFailed(f"{replica.name}: {type(error).__name__}") from error


def _replica_can_fail_over(error: BaseException) -> bool:
    if is_pool_timeout(error):
        return False  # every replica connection is busy: moving the load to the primary won't help
    return is_recovery_conflict(error) or is_unavailable(error)


# scope="function": the commit runs before the response is sent, so a 2xx is durable.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]
