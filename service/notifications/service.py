"""Notification rows for new posts, written once the publishing transaction has committed, in a
transaction of their own."""

import logging
from collections.abc import AsyncIterator, Sequence

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.db.after_commit import after_commit
from service.kit.db.session import own_transaction
from service.kit.model_base import utcnow
from service.kit.observability.context import current_request_id, request_context
from service.kit.observability.metrics import BACKGROUND_FAILURES
from service.kit.pagination import Page, Pager
from service.notifications import repository
from service.notifications.schemas import NotificationPublic
from service.posts.events import Publication
from service.posts.models import Post
from service.users.models import User

log = logging.getLogger("inkwell.notifications")


def recipients_for_post(session: AsyncSession, post: Post) -> AsyncIterator[list[int]]:
    """Who hears about `post`, page by page: the one place that decides it (the author's
    followers)."""
    return repository.follower_id_pages(session, post.author_id)


async def fan_out_new_post(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    post_id: int,
    request_id: str | None = None,
    recipients: Sequence[int] | None = None,
) -> int:
    """One post's fan-out: its own session and transaction, never the publishing one's.

    Failures are logged with the request id and counted, never swallowed silently.
    """
    with request_context(request_id):
        try:
            async with own_transaction(sessionmaker) as session:
                post = await session.get(Post, post_id)
                if post is None:
                    return 0  # the publishing transaction did not commit, or the post is gone
                pages = _given(recipients) if recipients is not None else None
                count, at = 0, utcnow()
                async for page in pages or recipients_for_post(session, post):
                    user_ids = sorted({uid for uid in page if uid != post.author_id})
                    count += await repository.add_for_post(
                        session, post_id=post_id, user_ids=user_ids, at=at
                    )
                return count
        except Exception:
            BACKGROUND_FAILURES.labels(task="notification_fan_out").inc()
            log.exception("notification fan-out failed", extra={"post_id": post_id})
            return 0


async def _given(recipients: Sequence[int]) -> AsyncIterator[Sequence[int]]:
    yield list(dict.fromkeys(recipients))


async def notify_followers(publication: Publication) -> None:
    """Subscribed to post events by `create_app`: each post's fan-out, awaited once the
    publishing transaction has committed (nothing if it rolls back)."""
    request_id = current_request_id()
    for published in publication.posts:

        async def fan_out(post_id: int = published.post_id) -> None:
            await fan_out_new_post(publication.sessionmaker, post_id=post_id, request_id=request_id)

        after_commit(publication.session, fan_out)


async def list_mine(session: AsyncSession, *, user: User, pager: Pager) -> Page[NotificationPublic]:
    """The user's notifications, newest first (keyset pages)."""
    assert user.id is not None
    sort = repository.NEWEST_FIRST
    rows = await repository.list_page(
        session, user_id=user.id, after=pager.after(sort), limit=pager.limit
    )
    items, next_cursor = pager.page(rows, sort)
    return Page(
        items=[NotificationPublic.model_validate(n) for n in items], next_cursor=next_cursor
    )
