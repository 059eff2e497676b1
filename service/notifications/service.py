"""Notification rows for new posts, written by a background task in its own transaction."""

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import BackgroundTasks
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.db.session import own_transaction
from service.kit.model_base import utcnow
from service.kit.observability.context import current_request_id, request_context
from service.kit.observability.metrics import BACKGROUND_FAILURES
from service.notifications import repository
from service.notifications.models import Notification
from service.posts.models import Post
from service.realtime.events import published_post_ids

log = logging.getLogger("inkwell.notifications")


async def recipients_for_post(session: AsyncSession, post: Post) -> list[int]:
    """Who hears about `post`: the one place that decides it (the author's followers)."""
    return await repository.follower_ids(session, post.author_id)


async def fan_out_new_post(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    post_id: int,
    request_id: str | None = None,
    recipients: Sequence[int] | None = None,
) -> int:
    """Background task: its own session and transaction, never the request's.

    Failures are logged with the request id and counted, never swallowed silently.
    """
    with request_context(request_id):
        try:
            async with own_transaction(sessionmaker) as session:
                post = await session.get(Post, post_id)
                if post is None:
                    return 0  # the publishing transaction did not commit, or the post is gone
                if recipients is None:
                    recipients = await recipients_for_post(session, post)
                user_ids = sorted({uid for uid in recipients if uid != post.author_id})
                return await repository.add_for_post(
                    session, post_id=post_id, user_ids=user_ids, at=utcnow()
                )
        except Exception:
            BACKGROUND_FAILURES.labels(task="notification_fan_out").inc()
            log.exception("notification fan-out failed", extra={"post_id": post_id})
            return 0


def schedule_fan_out(
    tasks: BackgroundTasks,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
) -> None:
    """After the response: one fan-out per post this request published."""
    for post_id in published_post_ids(session):
        tasks.add_task(
            fan_out_new_post, sessionmaker, post_id=post_id, request_id=current_request_id()
        )


async def list_page(
    session: AsyncSession, *, user_id: int, after: Sequence[Any] | None, limit: int
) -> Sequence[Notification]:
    return await repository.list_page(session, user_id=user_id, after=after, limit=limit)
