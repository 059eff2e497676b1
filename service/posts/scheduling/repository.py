"""The statements of the due scan: the earliest waiting post, and the claim that publishes."""

from datetime import datetime

from sqlalchemy import Table, func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.db.dialects import constant
from service.posts.models import Post, PostStatus

POSTS: Table = Post.__table__  # type: ignore[attr-defined]

_SCHEDULED = constant(PostStatus.scheduled.value)
"""A constant, not a parameter: only then does the due scan's partial index serve (a generic plan
with a parameter reads every post, on each pass of the worker's loop)."""
_WAITING = (POSTS.c.status == _SCHEDULED, POSTS.c.deleted_at.is_(None))


async def earliest(session: AsyncSession) -> datetime | None:
    """The earliest `publish_at` of a live scheduled post (the partial index's first entry)."""
    statement = select(func.min(POSTS.c.publish_at)).where(*_WAITING)
    found: datetime | None = (await (await session.connection()).execute(statement)).scalar_one()
    return found


async def publish_due(session: AsyncSession, *, now: datetime, limit: int) -> list[tuple[int, int]]:
    """Publish up to `limit` posts due by `now` in one UPDATE; (post id, author id) of each.

    PostgreSQL: the rows are claimed `FOR UPDATE SKIP LOCKED`, so concurrent workers take
    disjoint sets and never wait; the outer `status` test, evaluated again on the locked row,
    makes a second publication impossible. SQLite: one writer at a time. `created_at` becomes
    the publication time: the post enters "newest" at the top, as a new post does."""
    due = (
        select(POSTS.c.id)
        .where(*_WAITING, POSTS.c.publish_at <= now)
        .order_by(POSTS.c.publish_at, POSTS.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(POSTS)
        .where(POSTS.c.id.in_(due), POSTS.c.status == _SCHEDULED)
        .values(
            status=PostStatus.published.value,
            publish_at=None,
            version=POSTS.c.version + 1,
            created_at=now,
            updated_at=now,
        )
        .returning(POSTS.c.id, POSTS.c.author_id)
    )
    rows = (await (await session.connection()).execute(statement)).all()
    return sorted((int(post_id), int(author_id)) for post_id, author_id in rows)
