"""One dedicated LISTEN connection per process (never from the pool), reconnecting with backoff.

A NOTIFY on the outbox channel (sent at COMMIT by any instance that wrote events) wakes this
process' feed, which reads the new events from the outbox itself. Every (re)connect wakes it
too: what was committed while the connection was down is read back from storage (backfill), so
nothing is lost, and the feed's periodic re-read covers a connection that died silently.
"""

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from service.jobs.outbox import CHANNEL
from service.kit.tasks import cancel_and_wait
from service.realtime.metrics import REALTIME_LISTENING, REALTIME_RECONNECTS

log = logging.getLogger("inkwell.realtime")

PING_SECONDS = 10.0
"""An idle connection is probed this often, so a silent network loss is noticed too."""


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _setter(event: asyncio.Event) -> Any:
    return lambda _connection: event.set()


class PostgresListener:
    def __init__(self, *, dsn: str, wake: Callable[[], None], max_backoff: float) -> None:
        self.dsn = dsn
        self.wake = wake
        self.max_backoff = max_backoff
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name="realtime-listen")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, _payload: str) -> None:
        self.wake()

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
                self.wake()  # backfill whatever was committed while we were not listening
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
