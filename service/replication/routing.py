"""Read-your-writes routing: the `SessionRouter` (service/database/session.py) of the application.

A read goes to a healthy replica that has replayed the client's token, else the primary; a
failed replica read raises `ReplicaReadFailed` for the middleware to re-run on the primary; a
commit's response carries the primary's WAL position as its token (docs/scaling.md)."""

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import Request
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.database.engines import AsyncReadSession
from service.database.session import Database
from service.kit.db.errors import is_pool_timeout, is_recovery_conflict, is_unavailable
from service.replication.metrics import record_route
from service.replication.replicas import PRIMARY_LSN, ReplicaSet, parse_lsn
from service.replication.scope import ReadYourWrites, ReplicaReadFailed
from service.replication.tokens import TokenIssuer

log = logging.getLogger("inkwell.db")  # where operators have always found this warning


class ReplicaRouter:
    """Routes the reads of the application's `Database` to its `ReplicaSet` (maybe empty)."""

    def __init__(self, db: Database, replicas: ReplicaSet, tokens: TokenIssuer) -> None:
        self.db, self.replicas, self.tokens = db, replicas, tokens

    def choose_reader(self, request: Request) -> async_sessionmaker[AsyncReadSession] | None:
        context = ReadYourWrites.of(request.scope)
        context.replica = None
        if self.replicas.replicas and not context.force_primary:
            context.replica = self.replicas.choose(context.min_lsn)
        if context.replica is None:
            record_route("primary")
            return None
        record_route("replica")
        return context.replica.sessionmaker

    @asynccontextmanager
    async def reading(
        self, request: Request, session: AsyncReadSession | None
    ) -> AsyncIterator[None]:
        """On a replica: connect at once (a dead replica is known before the handler runs) and
        turn the failures the primary can absorb into ReplicaReadFailed."""
        replica = ReadYourWrites.of(request.scope).replica
        if replica is None:
            yield
            return
        try:
            if session is not None:  # a bare connection is connected inside this block
                await session.connection()
            yield
        except Exception as error:
            if not _can_fail_over(error):
                raise
            if is_unavailable(error):
                self.replicas.mark_down(replica, error)
            raise ReplicaReadFailed(f"{replica.name}: {type(error).__name__}") from error

    async def committed(self, request: Request, session: AsyncSession) -> Mapping[str, str]:
        """The primary's WAL position after the commit, as the response's consistency token.

        None without replicas: every read goes to the primary, so there is nothing to route."""
        if not self.replicas.replicas or session.get_bind().dialect.name != "postgresql":
            return {}
        lsn = await self._lsn_after_commit(session)
        return {} if lsn is None else self.tokens.headers(lsn)

    async def _lsn_after_commit(self, session: AsyncSession) -> int | None:
        try:
            if session.bind is self.db.primary:
                # one autocommit statement on the shared pool instead of BEGIN/SELECT/ROLLBACK
                async with self.db.reader.connect() as connection:
                    value = (await connection.exec_driver_sql(PRIMARY_LSN)).scalar_one()
            else:
                connection = await session.connection()
                value = (await connection.exec_driver_sql(PRIMARY_LSN)).scalar_one()
        except Exception as error:  # the write is committed: answer 2xx without a token
            log.warning("no consistency token after commit: %s", type(error).__name__)
            return None
        return parse_lsn(value)


def _can_fail_over(error: BaseException) -> bool:
    if is_pool_timeout(error):
        return False  # every replica connection is busy: moving the load to the primary won't help
    return is_recovery_conflict(error) or is_unavailable(error)
