"""In-process fan-out of feed frames to websocket clients, each behind a bounded queue."""

import asyncio
import logging
from dataclasses import dataclass, field

from service.realtime.metrics import REALTIME_CLIENTS, REALTIME_DROPPED, REALTIME_MESSAGES

log = logging.getLogger("inkwell.realtime")

CLOSE_GOING_AWAY = 1001
"""The server is shutting down: reconnect (to another instance)."""
CLOSE_TRY_AGAIN_LATER = 1013
"""The client did not keep up with the feed (its queue was full), or the server is full.
Reconnect (with `?after=<last event_id>`) and catch up."""


@dataclass(frozen=True)
class Frame:
    """One websocket text frame and the outbox event it announces."""

    event_id: int
    text: str


@dataclass(eq=False)
class Subscriber:
    queue: asyncio.Queue[Frame]
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    close_code: int | None = None
    close_reason: str = ""

    def close(self, code: int, reason: str) -> None:
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
            self.closed.set()


class Hub:
    """Every published message goes to every subscriber; a full queue gets its client dropped.

    Memory per client is bounded by `queue_size` messages: a client that cannot keep up is
    closed with 1013 instead of letting its backlog grow.
    """

    def __init__(self, queue_size: int) -> None:
        self.queue_size = queue_size
        self._subscribers: set[Subscriber] = set()
        self.closing = False

    def __len__(self) -> int:
        return len(self._subscribers)

    def subscribe(self) -> Subscriber:
        subscriber = Subscriber(asyncio.Queue(self.queue_size))
        if self.closing:
            subscriber.close(CLOSE_GOING_AWAY, "server shutting down")
        self._subscribers.add(subscriber)
        REALTIME_CLIENTS.inc()
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        if subscriber in self._subscribers:
            self._subscribers.remove(subscriber)
            REALTIME_CLIENTS.dec()

    def publish(self, message: Frame) -> None:
        for subscriber in list(self._subscribers):
            if subscriber.close_code is not None:
                continue
            try:
                subscriber.queue.put_nowait(message)
            except asyncio.QueueFull:
                REALTIME_DROPPED.inc()
                log.warning("dropping slow websocket client", extra={"queued": self.queue_size})
                subscriber.close(CLOSE_TRY_AGAIN_LATER, "too slow: reconnect and catch up")
            else:
                REALTIME_MESSAGES.inc()

    def close_all(self, code: int = CLOSE_GOING_AWAY, reason: str = "server shutting down") -> None:
        self.closing = True
        for subscriber in list(self._subscribers):
            subscriber.close(code, reason)
