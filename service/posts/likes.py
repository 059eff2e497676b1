"""The like rows and the post's denormalised `like_count`, kept exact under concurrency."""

from sqlalchemy import Table, delete, update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.db import dialects
from service.posts.models import Post, PostLike

POSTS: Table = Post.__table__  # type: ignore[attr-defined]
LIKES: Table = PostLike.__table__  # type: ignore[attr-defined]


async def add_like(session: AsyncSession, *, post_id: int, user_id: int) -> int | None:
    """Insert the like; bump the counter only when a row was really inserted.

    Core UPDATE on the table (not the ORM object): no version bump, no lost update, and
    `like_count + 1` is evaluated under the row lock, so the count is exact under concurrency.
    Returns the new count, or None when the like already existed.
    """
    inserted = await session.exec(
        dialects.insert(session, PostLike)
        .values(post_id=post_id, user_id=user_id)
        .on_conflict_do_nothing(index_elements=["post_id", "user_id"])
        .returning(LIKES.c.post_id)
    )
    if inserted.first() is None:
        return None
    return await _bump(session, post_id, +1)


async def remove_like(session: AsyncSession, *, post_id: int, user_id: int) -> int | None:
    """Delete the like and drop the counter; None when there was no like."""
    deleted = await session.exec(
        delete(LIKES)
        .where(LIKES.c.post_id == post_id, LIKES.c.user_id == user_id)
        .returning(LIKES.c.post_id)
    )
    if deleted.first() is None:
        return None
    return await _bump(session, post_id, -1)


async def _bump(session: AsyncSession, post_id: int, delta: int) -> int:
    result = await session.exec(
        update(POSTS)
        .where(POSTS.c.id == post_id)
        .values(like_count=POSTS.c.like_count + delta)
        .returning(POSTS.c.like_count)
    )
    count: int = result.scalar_one()
    return count


async def like_count(session: AsyncSession, post_id: int) -> int:
    result = await session.exec(select(POSTS.c.like_count).where(POSTS.c.id == post_id))
    count: int = result.one()
    return count
