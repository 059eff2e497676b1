"""The public representation of posts: labelled columns, read by label, built in one place.

The read path selects the columns a PostPublic needs, not entities (no identity map, no object
construction, no relationship loaders), with the tags aggregated in the same statement: one
statement per response (docs/performance.md). The hottest read, one post by id, is compiled once
and runs on the driver (`CompiledRead`); the filtered lists run the same columns through the ORM.
"""

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any, TypedDict, cast

from sqlalchemy import bindparam, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select as ColumnSelect
from sqlmodel.sql.expression import SelectOfScalar

from service.kit.db import dialects
from service.kit.db.reads import CompiledRead
from service.kit.http.routing.models import construct
from service.posts.models import Post, PostStatus
from service.posts.schemas import PostPublic
from service.tags.models import PostTag, Tag
from service.users.models import User
from service.users.schemas import UserPublic


class PublicFields(TypedDict):
    """One post's public columns with its author flattened: the labels of PUBLIC_COLUMNS."""

    id: int
    slug: str
    title: str
    body: str
    status: PostStatus
    meta: dict[str, Any]
    like_count: int
    version: int
    created_at: datetime
    updated_at: datetime
    author_id: int
    author_username: str
    author_display_name: str | None
    author_created_at: datetime
    tags: list[str]


# The sort keys (`id`, `created_at`, `like_count`) keep their column names: the pager reads
# the next cursor from the last row by those names.
PUBLIC_COLUMNS: tuple[Any, ...] = (
    col(Post.id).label("id"),
    col(Post.slug).label("slug"),
    col(Post.title).label("title"),
    col(Post.body).label("body"),
    col(Post.status).label("status"),
    col(Post.meta).label("meta"),
    col(Post.like_count).label("like_count"),
    col(Post.version).label("version"),
    col(Post.created_at).label("created_at"),
    col(Post.updated_at).label("updated_at"),
    col(Post.author_id).label("author_id"),
    col(User.username).label("author_username"),
    col(User.display_name).label("author_display_name"),
    col(User.created_at).label("author_created_at"),
)

PublicRow = Mapping[str, Any]
"""A result row of the public columns plus `tags`, read by the PublicFields labels."""


def _tag_names() -> SelectOfScalar[str]:
    return (
        select(col(Tag.name))
        .join(PostTag, col(PostTag.tag_id) == col(Tag.id))
        .where(col(PostTag.post_id) == col(Post.id))
    )


# A post's tags in the same statement: a sorted array on PostgreSQL; a JSON array on SQLite
# (sorted when read: SQLite has no ordered aggregate over a correlated subquery).
_TAGS = {
    "postgresql": func.array(_tag_names().order_by(col(Tag.name)).scalar_subquery()),
    "sqlite": select(func.json_group_array(col(Tag.name)))
    .join(PostTag, col(PostTag.tag_id) == col(Tag.id))
    .where(col(PostTag.post_id) == col(Post.id))
    .scalar_subquery(),
}


@cache
def public_rows(dialect: str) -> ColumnSelect[*tuple[Any, ...]]:
    """Visible posts JOIN their authors, as the columns of the public representation and their
    tags: one statement per response. Soft-deleted posts are excluded here, explicitly, because
    the fast reads (service/kit/db/reads.py) run below the ORM's soft-delete filter."""
    return (
        ColumnSelect(*PUBLIC_COLUMNS, _TAGS[dialect].label("tags"))
        .join(User, col(User.id) == col(Post.author_id))
        .where(col(Post.deleted_at).is_(None))
    )


BY_ID = CompiledRead(
    public_rows("sqlite").where(col(Post.id) == bindparam("post_id")),
    postgresql=public_rows("postgresql").where(col(Post.id) == bindparam("post_id")),
)
"""One post with its author and tags, whatever its status (the service checks visibility)."""

_VISIBILITY: ColumnSelect[*tuple[Any, ...]] = ColumnSelect(
    col(Post.status).label("status"), col(Post.author_id).label("author_id")
)
VISIBILITY = CompiledRead(
    _VISIBILITY.where(col(Post.id) == bindparam("post_id"), col(Post.deleted_at).is_(None))
)
"""What decides who may see a live post (for reads of what hangs below it: its comments)."""


def _tags(value: Any) -> list[str]:
    """Sorted here, by code point, on every backend: the representation (and so its ETag) must
    not depend on the database's collation, nor differ from `of_entity`'s (a handful of names)."""
    if isinstance(value, str):  # SQLite's JSON array
        return sorted(json.loads(value))
    return sorted(value)


_STATUSES = {status.value: status for status in PostStatus}
"""The enum of a status read as text (the driver path), or as the enum (a StrEnum member is
equal to its value, so it finds itself)."""


def build(fields: PublicRow) -> PostPublic:
    """THE way to a PostPublic, from database rows and from entities alike."""
    # construct: the values come from the database through typed columns, so validating them
    # again would only cost time. The status is made the enum the schema declares (the
    # driver path reads it as text).
    author = construct(
        UserPublic,
        {
            "id": fields["author_id"],
            "username": fields["author_username"],
            "display_name": fields["author_display_name"],
            "created_at": fields["author_created_at"],
        },
    )
    return construct(
        PostPublic,
        {
            "id": fields["id"],
            "slug": fields["slug"],
            "title": fields["title"],
            "body": fields["body"],
            "status": _STATUSES[fields["status"]],
            "meta": fields["meta"],
            "like_count": fields["like_count"],
            "version": fields["version"],
            "created_at": fields["created_at"],
            "updated_at": fields["updated_at"],
            "author": author,
            "tags": _tags(fields["tags"]),
        },
    )


def of_entity(post: Post) -> PostPublic:
    """A written post (author and tags loaded or set) as the same PostPublic a read returns."""
    assert post.id is not None
    assert post.slug is not None
    author = post.author
    fields = PublicFields(
        id=post.id,
        slug=post.slug,
        title=post.title,
        body=post.body,
        status=post.status,
        meta=post.meta,
        like_count=post.like_count,
        version=post.version,
        created_at=post.created_at,
        updated_at=post.updated_at,
        author_id=post.author_id,
        author_username=author.username,
        author_display_name=author.display_name,
        author_created_at=author.created_at,
        tags=sorted(tag.name for tag in post.tags),
    )
    return build(cast(PublicRow, fields))


async def fetch(
    session: AsyncSession,
    statement: ColumnSelect[*tuple[Any, ...]],
    params: dict[str, Any] | None = None,
) -> Sequence[PublicRow]:
    """Rows of a statement built on `public_rows()`, read by label (the ORM path)."""
    result = await session.exec(statement, params=params)
    return cast(Sequence[PublicRow], result.mappings().all())  # type: ignore[attr-defined]


def to_public(rows: Sequence[PublicRow]) -> list[PostPublic]:
    return [build(row) for row in rows]


async def get_many(session: AsyncSession, post_ids: Sequence[int]) -> list[PostPublic]:
    """Posts by id, in id order, as PostPublic (one statement whatever the count)."""
    if not post_ids:
        return []
    statement = (
        public_rows(dialects.dialect_name(session))
        .where(col(Post.id).in_(list(post_ids)))
        .order_by(col(Post.id))
    )
    return to_public(await fetch(session, statement))
