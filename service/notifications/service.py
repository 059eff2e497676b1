"""Notifications of new posts: a job handler of the `post.published` outbox topic (wired in
`service/flows.py`), run by the worker in its own transaction after the post committed; and the
recipient's API (page, unread count, mark read)."""

from sqlmodel.ext.asyncio.session import AsyncSession

from service.jobs.outbox import Event
from service.kit.model_base import utcnow
from service.kit.pagination import Page, Pager
from service.notifications import repository
from service.notifications.schemas import Actor, NotificationPublic, UnreadCount
from service.posts.events import PostPublished
from service.users.models import User


async def deliver_post_published(session: AsyncSession, event: Event) -> None:
    """The job: one notification per follower of the author for this event, none if the post is
    gone or unpublished by now. Idempotent (unique per event and recipient), so the worker may
    run it again after a crash."""
    published = PostPublished.from_payload(event.payload)
    await repository.add_for_post(
        session, event_id=event.id, post_id=published.post_id, at=utcnow()
    )


WEBHOOK_DISABLED = "webhook.disabled"


async def notify_webhook_disabled(session: AsyncSession, *, user_ids: list[int]) -> None:
    """Tell each owner that one of their webhook endpoints was disabled for failing."""
    at = utcnow()
    for user_id in user_ids:
        await repository.add_notice(session, user_id=user_id, type=WEBHOOK_DISABLED, at=at)


async def list_mine(session: AsyncSession, *, user: User, pager: Pager) -> Page[NotificationPublic]:
    """The user's notifications, newest first (keyset pages), each with its actor."""
    assert user.id is not None
    sort = repository.NEWEST_FIRST
    rows = await repository.list_page(
        session, user_id=user.id, after=pager.after(sort), limit=pager.limit
    )
    items, next_cursor = pager.page(rows, sort)
    return Page(
        items=[
            NotificationPublic(
                id=row.id,
                type=row.type,
                actor=None
                if row.actor_id is None
                else Actor(
                    id=row.actor_id,
                    username=row.actor_username,
                    display_name=row.actor_display_name,
                ),
                post_id=row.post_id,
                created_at=row.created_at,
                read_at=row.read_at,
            )
            for row in items
        ],
        next_cursor=next_cursor,
    )


async def unread_count(session: AsyncSession, *, user: User) -> UnreadCount:
    assert user.id is not None
    return UnreadCount(count=await repository.unread_count(session, user_id=user.id))


async def mark_read(session: AsyncSession, *, user: User, up_to_id: int | None) -> None:
    assert user.id is not None
    await repository.mark_read(session, user_id=user.id, up_to_id=up_to_id, at=utcnow())
