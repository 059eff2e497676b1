"""The durable work of the application: which job handler runs for which outbox topic, and the
periodic jobs. Shared by the service (embedded worker, `service/main.py`) and the separate worker
process (`python -m service.worker`, `make worker`)."""

from sqlmodel.ext.asyncio.session import AsyncSession

from service.database.session import Database
from service.idempotency.dependency import purge_expired
from service.jobs.worker import Registry, Worker, purge_done
from service.notifications.service import deliver_post_published
from service.posts.events import POST_PUBLISHED
from service.settings import Settings


def registry(settings: Settings) -> Registry:
    jobs = Registry()
    jobs.handle(POST_PUBLISHED, deliver_post_published)

    async def purge_idempotency_keys(session: AsyncSession) -> int:
        return await purge_expired(session, ttl_seconds=settings.idempotency_ttl_seconds)

    async def outbox_retention(session: AsyncSession) -> int:
        return await purge_done(session, older_than_seconds=settings.jobs_retention_seconds)

    jobs.every_maintenance("idempotency.purge", purge_idempotency_keys)
    jobs.every_maintenance("outbox.retention", outbox_retention)
    return jobs


def worker(settings: Settings, db: Database) -> Worker:
    return Worker(settings, registry(settings), db.sessionmaker, db.read_sessionmaker)
