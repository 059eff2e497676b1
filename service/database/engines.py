"""Engine factories (pool tuning, asyncpg server settings, PgBouncer mode, SQLite pragmas) and
the sessionmakers of the two session types: `AsyncSession` writes, `AsyncReadSession` reads."""

import logging
import time
import uuid
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, ExceptionContext
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from service.database.settings import DatabaseSettings
from service.kit.db.errors import is_disconnect_error
from service.observability.metrics import InstrumentedAsyncQueuePool, instrument_engine

log = logging.getLogger("inkwell.db")


SQLITE_BEGIN = "sqlite_begin"
"""Connection execution option: `DEFERRED` (default) or `IMMEDIATE` SQLite transactions."""
DRIVER_READS = "inkwell_driver_reads"
"""Engine execution option: hot reads may run on the asyncpg connection itself
(service/database/reads.py). Not behind PgBouncer, where only SQLAlchemy's own BEGIN keeps a
statement's prepare and execute on one server connection."""


def reads_autocommit(settings: DatabaseSettings) -> bool:
    """Whether read engines run without BEGIN: PostgreSQL, unless behind PgBouncer."""
    return not settings.is_sqlite and not settings.db_pgbouncer


def create_engine(
    url: str, settings: DatabaseSettings, *, role: str = "primary", autocommit: bool = False
) -> AsyncEngine:
    """An engine for `url`; `autocommit=True` makes connections run without BEGIN by default."""
    if url.startswith("sqlite"):
        engine = _create_sqlite_engine(url, settings)
    else:
        engine = _create_postgres_engine(url, settings, role=role, autocommit=autocommit)
    instrument_engine(engine, settings, role=role)
    return engine


def _create_postgres_engine(
    url: str, settings: DatabaseSettings, *, role: str, autocommit: bool
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
            # Every statement is prepared once per connection with bound values; a keyset page's
            # best plan (walk the index from the cursor) does not depend on them, but in `auto`
            # mode PostgreSQL re-plans a cursor page on every execution (docs/performance.md).
            "plan_cache_mode": settings.db_plan_cache_mode,
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
        execution_options={DRIVER_READS: not settings.db_pgbouncer},
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


def _create_sqlite_engine(url: str, settings: DatabaseSettings) -> AsyncEngine:
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
        options = connection.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":
            return  # each statement commits on its own (Alembic's autocommit_block)
        mode = options.get(SQLITE_BEGIN, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def pool_status(engine: AsyncEngine) -> dict[str, int]:
    """The pool's counters for /health/ready and the test probes (empty without a queue pool)."""
    pool: Any = engine.sync_engine.pool
    if not hasattr(pool, "checkedout"):
        return {}
    return {
        "size": pool.size(),
        "checked_out": pool.checkedout(),
        "checked_in": pool.checkedin(),
        "overflow": pool.overflow(),
    }


class ReadSession(Session):
    """The sync session behind an `AsyncReadSession`: the soft-delete hooks refuse its writes."""


class AsyncReadSession(AsyncSession):
    """A session that only reads (`ReadSessionDep`): on a replica or the primary's reader, never
    committed; any INSERT/UPDATE/DELETE or flush through it raises (database/session_rules.py)."""

    sync_session_class: type[Session] = ReadSession
    sync_session: ReadSession


def make_sessionmaker(bind: AsyncEngine | Any, **kwargs: Any) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(bind, class_=AsyncSession, expire_on_commit=False, **kwargs)


def make_read_sessionmaker(
    bind: AsyncEngine | Any, **kwargs: Any
) -> async_sessionmaker[AsyncReadSession]:
    return async_sessionmaker(bind, class_=AsyncReadSession, expire_on_commit=False, **kwargs)
