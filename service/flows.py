"""The durable work of the application: which job handler runs for which outbox topic, and the
periodic jobs. Shared by the service (embedded worker, `service/main.py`) and the separate worker
process (`python -m service.worker`, `make worker`)."""

from collections.abc import Callable

from sqlmodel.ext.asyncio.session import AsyncSession

from service.comments.events import COMMENT_CREATED
from service.database.session import Database
from service.follows.events import FOLLOWER_ADDED
from service.idempotency.dependency import purge_expired
from service.jobs.outbox import Outbox
from service.jobs.worker import Registry, Worker, purge_done
from service.notifications.service import deliver_post_published
from service.posts.events import POST_LIKED, POST_PUBLISHED, Publisher
from service.posts.scheduling import service as scheduling
from service.settings import Settings
from service.webhooks import enqueue
from service.webhooks.delivery import Sender


def _no_sender() -> None:
    """Where no sender runs in this process, deliveries wait for its poll."""


def registry(
    settings: Settings, wake_sender: Callable[[], None] = _no_sender, outbox: Outbox | None = None
) -> Registry:
    """`outbox`: the process's, whose consumers the events of scheduled posts wake (a worker
    process has none of its own: its loop runs them next)."""
    jobs = Registry()
    jobs.handle(POST_PUBLISHED, deliver_post_published)
    # Webhooks: each topic queues a delivery per subscribed endpoint (service/webhooks).
    for topic in (POST_PUBLISHED, COMMENT_CREATED, FOLLOWER_ADDED, POST_LIKED):
        hours = settings.webhook_retry_hours
        jobs.handle(topic, enqueue.handler(topic, retry_hours=hours, wake=wake_sender))

    async def purge_idempotency_keys(session: AsyncSession) -> int:
        return await purge_expired(session, ttl_seconds=settings.idempotency_ttl_seconds)

    async def outbox_retention(session: AsyncSession) -> int:
        return await purge_done(session, older_than_seconds=settings.jobs_retention_seconds)

    jobs.every_maintenance("idempotency.purge", purge_idempotency_keys)
    jobs.every_maintenance("outbox.retention", outbox_retention)
    publisher = Publisher(outbox or Outbox())

    async def publish_scheduled(session: AsyncSession) -> int:
        return await scheduling.publish_due(session, publisher)

    jobs.at_due_times("posts.publish_scheduled", scheduling.next_due, publish_scheduled)
    return jobs


def worker(
    settings: Settings,
    db: Database,
    wake_sender: Callable[[], None] = _no_sender,
    outbox: Outbox | None = None,
) -> Worker:
    jobs = registry(settings, wake_sender, outbox)
    return Worker(settings, jobs, db.sessionmaker, db.read_sessionmaker)


def sender(settings: Settings, db: Database) -> Sender:
    """The webhook delivery loop (runs wherever jobs run)."""
    return Sender(settings, db.sessionmaker)
