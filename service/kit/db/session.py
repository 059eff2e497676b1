"""The session dependencies: `SessionDep` (the one commit) and `ReadSessionDep`."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.db.after_commit import discard_after_commit, run_after_commit
from service.kit.db.engines import SQLITE_BEGIN, create_engine, log, make_sessionmaker
from service.kit.db.errors import is_pool_timeout, is_recovery_conflict, is_unavailable
from service.kit.db.guard import _slot
from service.kit.db.soft_delete import READ_ONLY, WROTE
from service.kit.settings import Settings
from service.replication.metrics import record_route
from service.replication.replicas import (
    PRIMARY_LSN,
    Replica,
    ReplicaSet,
    parse_lsn,
    pool_status,
)
from service.replication.scope import COMMIT_LSN, FORCE_PRIMARY, MIN_LSN, ReplicaReadFailed

_READ_REPLICA = "inkwell.read_replica"


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
        try:
            async with session.begin():
                yield session
        except BaseException:
            discard_after_commit(session)
            raise
        await run_after_commit(session)
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


@asynccontextmanager
async def own_transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session and a transaction of their own, committed on exit, rolled back on error.

    The one other way to commit, beside `get_session`: for work that is not the request's
    (a background job, the idempotency recorder). Never nest it inside a request's session.
    Like `get_session`, it runs the `after_commit` callbacks once committed.
    """
    async with sessionmaker() as session:
        try:
            async with session.begin():
                yield session
        except BaseException:
            discard_after_commit(session)
            raise
        await run_after_commit(session)
