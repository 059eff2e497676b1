"""Scheduled posts in tests: a publication time ahead, making a post due, the due scan's run,
and the `post.published` events of a post."""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.jobs.outbox import EVENTS, Outbox
from service.kit.model_base import utcnow
from service.posts.events import POST_PUBLISHED, Publisher
from service.posts.models import Post
from service.posts.scheduling import service as scheduling

POSTS = Post.__table__  # type: ignore[attr-defined]


def ahead(seconds: float = 3600) -> str:
    """An ISO 8601 time `seconds` from now (UTC), as a client sends `publish_at`."""
    return (utcnow() + timedelta(seconds=seconds)).isoformat()


def scheduled(seconds: float = 3600, **fields: Any) -> dict[str, Any]:
    """The fields of `create_post` for a post scheduled `seconds` ahead."""
    return {"status": "scheduled", "publish_at": ahead(seconds), **fields}


async def make_due(sessionmaker: async_sessionmaker[AsyncSession], post_id: int) -> datetime:
    """Move a scheduled post's time a second into the past (the API refuses a past time)."""
    past = utcnow() - timedelta(seconds=1)
    async with sessionmaker() as session, session.begin():
        await session.exec(update(POSTS).where(POSTS.c.id == post_id).values(publish_at=past))
    return past


async def publish_due(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """One run of the worker's due-time job, committed."""
    async with sessionmaker() as session, session.begin():
        return await scheduling.publish_due(session, Publisher(Outbox()))


async def published_events(connection: AsyncConnection, post_id: int) -> int:
    """How many `post.published` events the outbox holds for the post."""
    statement = select(func.count()).where(
        EVENTS.c.topic == POST_PUBLISHED,
        EVENTS.c.payload["post_id"].as_integer() == post_id,
    )
    return int((await connection.execute(statement)).scalar_one())
