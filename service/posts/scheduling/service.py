"""Scheduled posts become published when their time comes: the job worker's due-time job
(service/flows.py). Never commits: the worker runs it in a transaction of its own."""

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.model_base import utcnow
from service.posts.events import PostPublished, Publisher
from service.posts.scheduling import repository

BATCH = 100
"""Posts published per transaction; more due posts are taken in the next round at once."""


async def next_due(session: AsyncSession) -> datetime | None:
    """When the next scheduled post is due (None: none waits)."""
    return await repository.earliest(session)


async def publish_due(session: AsyncSession, publisher: Publisher) -> int:
    """Publish the posts whose time has come, each with its `post.published` event in this
    transaction (so notifications, the realtime event and webhooks follow once); how many."""
    published = await repository.publish_due(session, now=utcnow(), limit=BATCH)
    await publisher.published(session, [PostPublished(*row) for row in published])
    return len(published)
