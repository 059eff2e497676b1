"""The one read of the feeds: the latest published posts, optionally of one author or tag."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.posts.models import Post, PostStatus
from service.tags.models import PostTag, Tag
from service.users.models import User


async def latest(
    session: AsyncSession, *, limit: int, author_id: int | None = None, tag: str | None = None
) -> Sequence[Any]:
    conditions: list[ColumnElement[bool]] = [
        col(Post.status) == PostStatus.published,
        col(Post.deleted_at).is_(None),
    ]
    if author_id is not None:
        conditions.append(col(Post.author_id) == author_id)
    if tag is not None:
        tagged = (
            select(col(PostTag.post_id))
            .join(Tag, col(Tag.id) == col(PostTag.tag_id))
            .where(col(Tag.name) == tag)
        )
        conditions.append(col(Post.id).in_(tagged))
    statement: Any = (
        select(
            col(Post.id).label("id"),
            col(Post.title).label("title"),
            col(Post.body).label("body"),
            col(Post.created_at).label("created_at"),
            col(Post.updated_at).label("updated_at"),
            col(User.username).label("username"),
            col(User.display_name).label("display_name"),
        )
        .join(User, col(User.id) == col(Post.author_id))
        .where(*conditions)
        .order_by(col(Post.created_at).desc(), col(Post.id).desc())
        .limit(limit)
    )
    return list((await (await session.connection()).execute(statement)).all())
