"""The reading list's compiled read: the reader's bookmarked posts that are still visible to
them, most recently bookmarked first, a keyset page at a time (one statement per page)."""

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, bindparam, literal_column, or_
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from service.bookmarks.models import Bookmark
from service.database.reads import CompiledRead, Row
from service.kit.pagination import SortKey, row_limit
from service.posts.models import Post
from service.posts.queries import public_rows

NEWEST = SortKey(
    "-bookmarked_at", (col(Bookmark.bookmarked_at), col(Bookmark.post_id)), descending=True
)
"""The reading list's order; the pager reads `bookmarked_at` and `post_id` from each row."""


def _page(dialect: str, cursor: bool) -> Any:
    reader: ColumnElement[int] = bindparam("viewer_id")
    # Visible to the reader: published, or their own draft (a post that is deleted or
    # unpublished by its author drops out; its bookmark stays, and comes back with it).
    visible = or_(col(Post.status) == literal_column("'published'"), col(Post.author_id) == reader)
    statement = (
        public_rows(dialect)
        .add_columns(
            col(Bookmark.bookmarked_at).label("bookmarked_at"),
            col(Bookmark.post_id).label("post_id"),
        )
        .join(Bookmark, col(Bookmark.post_id) == col(Post.id))
        .where(col(Bookmark.user_id) == reader, visible)
    )
    if cursor:
        statement = statement.where(NEWEST.after_bound())
    return statement.order_by(*NEWEST.order_by())


@lru_cache(maxsize=256)
def statement_for(cursor: bool, rows: int) -> CompiledRead:
    """The page, `rows` rows at most, built and compiled once per (cursor, size)."""
    limit = row_limit(rows)
    return CompiledRead(
        _page("sqlite", cursor).limit(limit), postgresql=_page("postgresql", cursor).limit(limit)
    )


async def page_rows(
    reader: AsyncConnection, *, viewer_id: int, after: Sequence[Any] | None, limit: int
) -> Sequence[Row]:
    """One page (plus a look-ahead row) of the reader's bookmarked, visible posts."""
    params: dict[str, Any] = {"viewer_id": viewer_id}
    if after is not None:
        params |= NEWEST.bound(after)
    return await statement_for(after is not None, limit + 1).all(reader, **params)
