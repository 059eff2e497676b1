"""The realtime feed of one application: its hub plus, on PostgreSQL, its LISTEN connection."""

from service.kit.db.engines import make_sessionmaker
from service.kit.db.session import Database
from service.kit.settings import Settings
from service.posts.events import Publication
from service.realtime import events
from service.realtime.hub import Hub
from service.realtime.listener import PostgresListener, asyncpg_dsn


class Realtime:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.hub = Hub(settings.realtime_queue_size)
        self.listener: PostgresListener | None = None
        if not settings.is_sqlite:
            self.listener = PostgresListener(
                dsn=asyncpg_dsn(settings.realtime_listen_url or settings.database_url),
                hub=self.hub,
                # Always the primary: a replica may not have the post yet when NOTIFY arrives.
                sessionmaker=make_sessionmaker(db.primary),
                max_backoff=settings.realtime_reconnect_max_seconds,
            )

    def start(self) -> None:
        if self.listener is not None:
            self.listener.start()

    async def announce(self, publication: Publication) -> None:
        """Subscribed to posts' events by `create_app`: the feed shows what was published."""
        post_ids = [published.post_id for published in publication.posts]
        if self.listener is not None:
            await events.notify(publication.session, post_ids)
        else:
            await events.deliver_after_commit(publication.session, self.hub, post_ids)

    def close_clients(self) -> None:
        """Tell every websocket client to go away (1001); new ones are refused the same way."""
        self.hub.close_all()

    async def stop(self) -> None:
        self.close_clients()
        if self.listener is not None:
            await self.listener.stop()
