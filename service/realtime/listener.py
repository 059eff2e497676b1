"""One dedicated LISTEN connection per process (never from the pool), reconnecting with backoff.

Notifications carry post ids; a consumer task loads each post from the primary and hands the
JSON to the hub. Notifications sent while the connection is down are lost (at-most-once feed):
clients that care reconcile with `GET /posts?created_after=`.
"""

import asyncio
import contextlib
import logging
import random
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.errors import NotFound
from service.posts import service as posts
from service.realtime.events import CHANNEL, serialize
from service.realtime.hub import Hub
from service.realtime.metrics import REALTIME_LISTENING, REALTIME_RECONNECTS

log = logging.getLogger("inkwell.realtime")

PING_SECONDS = 10.0
"""An idle connection is probed this often, so a silent network loss is noticed too."""
MAX_PENDING = 10_000
"""Post ids waiting to be loaded; beyond this, notifications are dropped (and logged)."""


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _setter(event: asyncio.Event) -> Any:
    return lambda _connection: event.set()


class PostgresListener:
    def __init__(
        self,
        *,
        dsn: str,
        hub: Hub,
        sessionmaker: async_sessionmaker[AsyncSession],
        max_backoff: float,
    ) -> None:
        self.dsn = dsn
        self.hub = hub
        self.sessionmaker = sessionmaker
        self.max_backoff = max_backoff
        self.connected = asyncio.Event()
        self._ids: asyncio.Queue[int] = asyncio.Queue(MAX_PENDING)
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen_forever(), name="realtime-listen"),
            asyncio.create_task(self._deliver_forever(), name="realtime-deliver"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            self._ids.put_nowait(int(payload))
        except ValueError:
            log.warning("ignoring malformed notification", extra={"payload": payload[:100]})
        except asyncio.QueueFull:
            log.error("realtime backlog full; dropping a notification", extra={"post_id": payload})

    async def _listen_forever(self) -> None:
        attempt = 0
        while True:
            connection = None
            delay = 0.0
            try:
                connection = await asyncpg.connect(self.dsn, timeout=5)
                lost = asyncio.Event()
                connection.add_termination_listener(_setter(lost))
                await connection.add_listener(CHANNEL, self._on_notify)
                if attempt:
                    REALTIME_RECONNECTS.inc()
                    log.info("realtime listener reconnected", extra={"attempts": attempt})
                attempt = 0
                self.connected.set()
                REALTIME_LISTENING.inc()
                while not lost.is_set():
                    try:
                        await asyncio.wait_for(lost.wait(), PING_SECONDS)
                    except TimeoutError:
                        await connection.fetchval("SELECT 1", timeout=5)
                raise ConnectionError("LISTEN connection terminated")
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if self.connected.is_set():
                    REALTIME_LISTENING.dec()
                    self.connected.clear()
                attempt += 1
                delay = min(self.max_backoff, 0.1 * 2 ** min(attempt, 10)) * random.uniform(0.5, 1)
                log.warning(
                    "realtime listener disconnected; retrying",
                    extra={"error": type(error).__name__, "retry_in_s": round(delay, 2)},
                )
            finally:
                if self.connected.is_set():  # cancelled while listening
                    REALTIME_LISTENING.dec()
                    self.connected.clear()
                if connection is not None and not connection.is_closed():
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(connection.close(), 2)
            await asyncio.sleep(delay)

    async def _deliver_forever(self) -> None:
        while True:
            post_id = await self._ids.get()
            if not len(self.hub):
                continue  # nobody is listening on this instance: skip the query
            try:
                async with self.sessionmaker() as session:
                    message = serialize(await posts.read_post(session, post_id, None))
            except NotFound:
                continue  # deleted or unpublished again before we got to it
            except Exception:
                log.exception("could not load a published post", extra={"post_id": post_id})
                continue
            self.hub.publish(message)
