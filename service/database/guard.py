"""FIFO admission in front of the connection pools (`SessionGuard`)."""

import asyncio
from collections.abc import AsyncIterator, MutableMapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.database.settings import DatabaseSettings
from service.kit.errors import ServiceUnavailable
from service.kit.state import StateSlot

_HOLDS_SLOT = "inkwell.session_slot"


BUSY = "The database is busy; retry shortly."


class SessionGuard:
    """FIFO admission in front of the pools: at most `limit` requests of this process use the DB.

    Requests beyond the pool size queue here, in order, not in the pool (why: docs/scaling.md). One
    slot per request, however many sessions it opens, so a request can never wait on itself."""

    def __init__(self, limit: int, timeout: float, retry_after: int) -> None:
        self.limit, self.timeout, self.retry_after = limit, timeout, retry_after
        self._slots = asyncio.Semaphore(limit)

    @classmethod
    def from_settings(cls, settings: DatabaseSettings) -> "SessionGuard":
        limit = settings.db_session_limit or settings.db_pool_size
        return cls(limit, settings.db_pool_timeout, settings.retry_after_seconds)

    @asynccontextmanager
    async def slot(self, scope: MutableMapping[str, Any] | None = None) -> AsyncIterator[None]:
        if scope is not None and scope.get(_HOLDS_SLOT):
            yield
            return
        try:
            if self._slots.locked():  # others wait: queue behind them, for at most the timeout
                async with asyncio.timeout(self.timeout):
                    await self._slots.acquire()
            else:  # a free slot and nobody waiting: take it without arming a timer
                await self._slots.acquire()
        except TimeoutError:
            raise ServiceUnavailable(BUSY, retry_after=self.retry_after) from None
        if scope is not None:
            scope[_HOLDS_SLOT] = True
        try:
            yield
        finally:
            if scope is not None:
                scope[_HOLDS_SLOT] = False
            self._slots.release()


SESSION_GUARD: StateSlot[SessionGuard] = StateSlot("session_guard")


def slot_of(request: Request) -> AbstractAsyncContextManager[None]:
    guard = SESSION_GUARD.find(request)
    return guard.slot(request.scope) if guard is not None else nullcontext()


@asynccontextmanager
async def side_session(
    request: Request, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[AsyncSession]:
    """A short session of its own for a lookup outside the request's session (never commits).

    It shares the request's guard slot, so a request never waits on itself.
    """
    async with slot_of(request), sessionmaker() as session:
        yield session
