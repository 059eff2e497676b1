"""The session dependencies: `SessionDep` (the one commit) and `ReadSessionDep`.

A write session commits BEFORE the response is sent, then runs the `after_commit` callbacks and
asks the `SessionRouter` for the consistency token; a read session refuses writes and is never
committed. Without an installed router every read goes to the primary (docs/architecture.md)."""

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.database.after_commit import discard_after_commit, run_after_commit
from service.database.engines import (
    SQLITE_BEGIN,
    AsyncReadSession,
    create_engine,
    make_read_sessionmaker,
    make_sessionmaker,
    pool_status,
    reads_autocommit,
)
from service.database.guard import BUSY, slot_of
from service.database.session_rules import WROTE
from service.database.settings import DatabaseSettings
from service.kit.errors import (
    DATA_CONFLICT,
    DATABASE_UNAVAILABLE,
    Conflict,
    ServiceUnavailable,
)
from service.kit.http.answers import declares
from service.kit.http.routing import shielded
from service.kit.state import StateSlot
from service.observability.metrics import forget_engine


@dataclass(eq=False)
class Database:
    """The primary's engines of one process; the application lifespan creates and disposes them.

    On PostgreSQL without PgBouncer `primary` and `reader` share one autocommit pool and `primary`
    switches each checkout to READ COMMITTED (docs/scaling.md, "Lean read path")."""

    primary: AsyncEngine
    reader: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    read_sessionmaker: async_sessionmaker[AsyncReadSession]

    @classmethod
    def from_settings(cls, settings: DatabaseSettings) -> "Database":
        url = settings.database_url
        if reads_autocommit(settings):
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
        return cls(
            primary=primary,
            reader=reader,
            sessionmaker=make_sessionmaker(primary),
            read_sessionmaker=make_read_sessionmaker(reader),
        )

    async def dispose(self) -> None:
        shared = self.primary.sync_engine.pool is self.reader.sync_engine.pool
        await self.reader.dispose()
        if not shared:
            await self.primary.dispose()
        for engine in (self.reader, self.primary):
            forget_engine(engine)

    def stats(self) -> dict[str, Any]:
        """The primary's pool state for /health/ready and the tests (cheap, no I/O)."""
        return {"primary": {"pool": pool_status(self.primary)}}


DATABASE: StateSlot[Database] = StateSlot("db")


class SessionRouter(Protocol):
    """Where a request's reads run and what its commit leaves behind (service/replication)."""

    def choose_reader(self, request: Request) -> async_sessionmaker[AsyncReadSession] | None:
        """A replica's sessionmaker for this request's reads, or None for the primary's."""
        ...

    def reading(
        self, request: Request, session: AsyncReadSession | None
    ) -> AbstractAsyncContextManager[None]:
        """Wraps a read's whole life, its connect included (e.g. to fail a broken replica
        over); `session` is None for a bare connection (service/database/reads.py)."""
        ...

    async def committed(self, request: Request, session: AsyncSession) -> Mapping[str, str]:
        """Called once the request's transaction committed a write: the headers its response
        carries (e.g. a consistency token)."""
        ...


class PrimaryOnly:
    """The router of an application that installed none: the primary, no tokens."""

    def choose_reader(self, request: Request) -> async_sessionmaker[AsyncReadSession] | None:
        return None

    def reading(
        self, request: Request, session: AsyncReadSession | None
    ) -> AbstractAsyncContextManager[None]:
        return nullcontext()

    async def committed(self, request: Request, session: AsyncSession) -> Mapping[str, str]:
        return {}


SESSION_ROUTER: StateSlot[SessionRouter] = StateSlot("session_router")


_PRIMARY_ONLY = PrimaryOnly()


def router_of(request: Request) -> SessionRouter:
    return SESSION_ROUTER.find(request) or _PRIMARY_ONLY


DATABASE_ERRORS = (ServiceUnavailable(DATABASE_UNAVAILABLE), ServiceUnavailable(BUSY))
"""What any route that reaches the database may answer (service/kit/errors.py, guard.py)."""


@declares(*DATABASE_ERRORS)
async def get_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    """The write side of a request: the primary (tests override this provider)."""
    return DATABASE.of(request).sessionmaker


@declares(*DATABASE_ERRORS)
async def get_read_sessionmaker(request: Request) -> async_sessionmaker[AsyncReadSession]:
    """The read side of a request: the router's replica, else the primary's reader."""
    return router_of(request).choose_reader(request) or DATABASE.of(request).read_sessionmaker


SessionMakerDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessionmaker)]


ReadSessionMakerDep = Annotated[
    async_sessionmaker[AsyncReadSession], Depends(get_read_sessionmaker)
]


@declares(Conflict(DATA_CONFLICT), writes_only=True)
@shielded
async def get_session(
    request: Request, response: Response, sessionmaker: SessionMakerDep
) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, rolled back if it raises.

    Once committed: the after-commit callbacks, then, if it wrote, the router's headers (the
    consistency token) on the response (the route class sends headers set on exit).
    """
    async with slot_of(request), sessionmaker() as session:
        async with _committed(session):
            yield session
        if session.info.get(WROTE):
            response.headers.update(await router_of(request).committed(request, session))


async def get_read_session(
    request: Request, sessionmaker: ReadSessionMakerDep
) -> AsyncIterator[AsyncReadSession]:
    """A read-only session, never committed, wrapped by the router (replica fail-over)."""
    async with (
        slot_of(request),
        sessionmaker() as session,
        router_of(request).reading(request, session),
    ):
        yield session


# scope="function": the commit runs before the response is sent, so a 2xx is durable.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


ReadSessionDep = Annotated[AsyncReadSession, Depends(get_read_session, scope="function")]


@asynccontextmanager
async def own_transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session and a transaction of their own, committed on exit, rolled back on error.

    The one other way to commit, beside `get_session` (and like it, it runs the `after_commit`
    callbacks): for work that is not the request's. Never nest it inside a request's session."""
    async with sessionmaker() as session, _committed(session):
        yield session


@asynccontextmanager
async def _committed(session: AsyncSession) -> AsyncIterator[None]:
    """One transaction: COMMIT then the after-commit callbacks, or ROLLBACK and forget them."""
    try:
        async with session.begin():
            yield
    except BaseException:
        discard_after_commit(session)
        raise
    await run_after_commit(session)
