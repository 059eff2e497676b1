"""Post queries: entities for writes, filtered and ranked listings of the read model."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Table,
    delete,
    func,
    insert,
)
from sqlalchemy.orm import joinedload, selectinload
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from service.kit.db import dialects
from service.kit.db.session_rules import INCLUDE_DELETED
from service.kit.pagination import SortKey, paginate
from service.posts import read_model
from service.posts.models import Post, PostStatus
from service.posts.read_model import PublicRow
from service.posts.schemas import PostSort
from service.tags.models import PostTag

SORTS = {
    PostSort.newest: SortKey(PostSort.newest, (col(Post.created_at), col(Post.id)), True),
    PostSort.oldest: SortKey(PostSort.oldest, (col(Post.created_at), col(Post.id)), False),
    PostSort.most_liked: SortKey(PostSort.most_liked, (col(Post.like_count), col(Post.id)), True),
}

POSTS: Table = Post.__table__  # type: ignore[attr-defined]


def with_relations() -> SelectOfScalar[Post]:
    # Author: one JOIN in the same statement. Tags: one SELECT ... IN for the whole page.
    return select(Post).options(
        joinedload(Post.author, innerjoin=True),  # type: ignore[arg-type]
        selectinload(Post.tags),  # type: ignore[arg-type]
    )


async def get(
    session: AsyncSession, post_id: int, *, include_deleted: bool = False, bare: bool = False
) -> Post | None:
    """The post with author and tags, or `bare` (one statement, no relations) for checks."""
    statement = (select(Post) if bare else with_relations()).where(Post.id == post_id)
    if include_deleted:
        statement = statement.execution_options(**{INCLUDE_DELETED: True})
    return (await session.exec(statement)).first()


async def top_per_author(
    session: AsyncSession,
    *,
    per_author: int,
    sort: SortKey,
    after: Sequence[Any] | None,
    limit: int,
) -> Sequence[PublicRow]:
    """Each author's `per_author` most liked published posts (row_number over authors)."""
    rank = (
        func.row_number()
        .over(
            partition_by=col(Post.author_id),
            order_by=(col(Post.like_count).desc(), col(Post.id).desc()),
        )
        .label("rank")
    )
    ranked = (
        select(col(Post.id).label("id"), rank)
        .where(Post.status == PostStatus.published, col(Post.deleted_at).is_(None))
        .subquery("ranked")
    )
    rows = read_model.public_rows(dialects.dialect_name(session))
    statement = rows.join(ranked, ranked.c.id == col(Post.id)).where(ranked.c.rank <= per_author)
    return await read_model.fetch(session, paginate(statement, sort, after, limit))


async def replace_tags(session: AsyncSession, post_id: int, tag_ids: Sequence[int]) -> None:
    await session.exec(delete(PostTag).where(col(PostTag.post_id) == post_id))
    if tag_ids:
        rows = [{"post_id": post_id, "tag_id": tag_id} for tag_id in tag_ids]
        await session.exec(dialects.insert(session, PostTag).values(rows))


async def taken_slugs(session: AsyncSession, candidates: Sequence[str]) -> set[str]:
    """Which of `candidates` a post already has, soft-deleted ones included."""
    if not candidates:
        return set()
    statement = (
        select(col(Post.slug))
        .where(col(Post.slug).in_(set(candidates)))
        .execution_options(**{INCLUDE_DELETED: True})
    )
    return {slug for slug in (await session.exec(statement)).all() if slug is not None}


async def insert_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[int]:
    """One multi-row INSERT ... VALUES (...), (...) RETURNING; ids in the order of `rows`.

    RETURNING order is not guaranteed by SQL, so rows are matched back by their unique slug.
    """
    statement = insert(POSTS).values(list(rows)).returning(POSTS.c.id, POSTS.c.slug)
    ids = {slug: post_id for post_id, slug in (await session.exec(statement)).all()}
    return [ids[row["slug"]] for row in rows]
