from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import joinedload
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from service.core.db import INCLUDE_DELETED
from service.core.pagination import SortKey, paginate
from service.posts.models import Post, PostStatus
from service.posts.schemas import PostSort

SORTS = {
    PostSort.newest: SortKey(PostSort.newest, (col(Post.created_at), col(Post.id)), True),
    PostSort.oldest: SortKey(PostSort.oldest, (col(Post.created_at), col(Post.id)), False),
}


@dataclass(frozen=True)
class PostFilter:
    author_id: int | None = None
    status: PostStatus = PostStatus.published
    created_after: datetime | None = None
    created_before: datetime | None = None


def _with_author() -> SelectOfScalar[Post]:
    # Many-to-one: one JOIN in the same statement, whatever the page size.
    return select(Post).options(joinedload(Post.author, innerjoin=True))  # type: ignore[arg-type]


async def get(session: AsyncSession, post_id: int, *, include_deleted: bool = False) -> Post | None:
    statement = _with_author().where(Post.id == post_id)
    if include_deleted:
        statement = statement.execution_options(**{INCLUDE_DELETED: True})
    return (await session.exec(statement)).first()


async def list_page(
    session: AsyncSession,
    *,
    filters: PostFilter,
    sort: SortKey,
    after: Sequence[Any] | None,
    limit: int,
) -> Sequence[Post]:
    statement = _with_author().where(Post.status == filters.status)
    if filters.author_id is not None:
        statement = statement.where(Post.author_id == filters.author_id)
    if filters.created_after is not None:
        statement = statement.where(Post.created_at >= filters.created_after)
    if filters.created_before is not None:
        statement = statement.where(Post.created_at < filters.created_before)
    return (await session.exec(paginate(statement, sort, after, limit))).all()
