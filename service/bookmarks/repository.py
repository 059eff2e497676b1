"""The statements of bookmarks run through the session (the reading list: queries.py)."""

from sqlalchemy import delete
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.bookmarks.models import Bookmark
from service.kit.db import dialects


async def add(session: AsyncSession, *, user_id: int, post_id: int) -> None:
    """Idempotent: bookmarking twice keeps the first `bookmarked_at`."""
    await session.exec(
        dialects.insert(session, Bookmark)
        .values(user_id=user_id, post_id=post_id)
        .on_conflict_do_nothing(index_elements=["user_id", "post_id"])
    )


async def remove(session: AsyncSession, *, user_id: int, post_id: int) -> None:
    await session.exec(
        delete(Bookmark).where(col(Bookmark.user_id) == user_id, col(Bookmark.post_id) == post_id)
    )
