"""The realtime feed of one application: its hub, the outbox tail and, on PostgreSQL, its LISTEN
connection (the wake-up call from other instances)."""

from service.database.engines import make_sessionmaker
from service.database.session import Database
from service.kit.state import StateSlot
from service.realtime.feed import FeedTail
from service.realtime.hub import Hub
from service.realtime.listener import PostgresListener, asyncpg_dsn
from service.realtime.settings import RealtimeSettings


class Realtime:
    def __init__(self, settings: RealtimeSettings, db: Database) -> None:
        self.hub = Hub(settings.realtime_queue_size)
        self.max_clients = settings.realtime_max_clients
        # Always the primary: a replica may not have the event yet when we are woken.
        self.sessionmaker = make_sessionmaker(db.reader)
        self.tail = FeedTail(self.hub, self.sessionmaker, settings.realtime_poll_seconds)
        self.listener: PostgresListener | None = None
        if not settings.is_sqlite:
            self.listener = PostgresListener(
                dsn=asyncpg_dsn(settings.realtime_listen_url or settings.database_url),
                wake=self.tail.wake,
                max_backoff=settings.realtime_reconnect_max_seconds,
            )

    @property
    def full(self) -> bool:
        return len(self.hub) >= self.max_clients

    def start(self) -> None:
        self.tail.start()
        if self.listener is not None:
            self.listener.start()

    def close_clients(self) -> None:
        """Tell every websocket client to go away (1001); new ones are refused the same way."""
        self.hub.close_all()

    async def stop(self) -> None:
        self.close_clients()
        if self.listener is not None:
            await self.listener.stop()
        await self.tail.stop()


REALTIME: StateSlot[Realtime] = StateSlot("realtime")
