"""Reading-list rules: only a post you may see can be bookmarked; removing is always allowed
(it touches only your own row); the list shows what is still visible to you. Never commits."""

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from service.bookmarks import queries, repository
from service.bookmarks.schemas import BookmarkedPost
from service.kit.pagination import Page, Pager
from service.posts import service as posts
from service.posts.representation import build_as
from service.users.models import User


async def bookmark(session: AsyncSession, *, user: User, post_id: int) -> None:
    """Idempotent; a post the user may not see is a 404, whether it exists or not."""
    post = await posts.get_visible(session, post_id, user, bare=True)
    assert user.id is not None
    assert post.id is not None
    await repository.add(session, user_id=user.id, post_id=post.id)


async def unbookmark(session: AsyncSession, *, user: User, post_id: int) -> None:
    """Idempotent, and the same answer for any id: it says nothing about the post."""
    assert user.id is not None
    await repository.remove(session, user_id=user.id, post_id=post_id)


async def reading_list(
    reader: AsyncConnection, *, user: User, pager: Pager
) -> Page[BookmarkedPost]:
    assert user.id is not None
    key = queries.NEWEST
    rows = await queries.page_rows(
        reader, viewer_id=user.id, after=pager.after(key), limit=pager.limit
    )
    items, next_cursor = pager.page(rows, key)
    return Page(
        items=[
            build_as(BookmarkedPost, row, bookmarked=True, bookmarked_at=row["bookmarked_at"])
            for row in items
        ],
        next_cursor=next_cursor,
    )
