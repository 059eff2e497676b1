"""The public representation of posts: labelled columns, read by label, built in one place.

The read path selects the columns a PostPublic needs, not entities: no identity map, no object
construction, no relationship loaders (docs/performance.md). It stays an ORM-enabled select
(columns of mapped classes), so the global soft-delete filter still applies to it.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypedDict, cast

from sqlalchemy import Row, bindparam
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select as ColumnSelect

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

PublicRow = Row[*tuple[Any, ...]]
"""A result row of PUBLIC_COLUMNS (read through `row._mapping`, by the PublicFields labels)."""

PUBLIC_ROWS: ColumnSelect[*tuple[Any, ...]] = ColumnSelect(*PUBLIC_COLUMNS).join(
    User, col(User.id) == col(Post.author_id)
)
"""Posts JOIN their authors, as the columns of the public representation."""

# Statements are immutable and cached by SQLAlchemy once compiled: the fixed ones are built once
# here, with bound parameters, instead of per request (building a select costs ~100 µs).
_BY_ID = PUBLIC_ROWS.where(col(Post.id) == bindparam("post_id"))
_BY_IDS = PUBLIC_ROWS.where(col(Post.id).in_(bindparam("post_ids", expanding=True))).order_by(
    col(Post.id)
)
_TAGS = (
    select(col(PostTag.post_id), col(Tag.name))
    .join(Tag, col(Tag.id) == col(PostTag.tag_id))
    .order_by(col(PostTag.post_id), col(Tag.name))
)
_TAGS_OF_ONE = _TAGS.where(col(PostTag.post_id) == bindparam("post_id"))
_TAGS_OF_MANY = _TAGS.where(col(PostTag.post_id).in_(bindparam("post_ids", expanding=True)))


def build(fields: PublicFields, tags: list[str]) -> PostPublic:
    """THE way to a PostPublic, from database rows and from entities alike."""
    # model_construct: the values come from the database through typed columns, so validating
    # them again would only cost time.
    author = UserPublic.model_construct(
        id=fields["author_id"],
        username=fields["author_username"],
        display_name=fields["author_display_name"],
        created_at=fields["author_created_at"],
    )
    return PostPublic.model_construct(
        id=fields["id"],
        slug=fields["slug"],
        title=fields["title"],
        body=fields["body"],
        status=fields["status"],
        meta=fields["meta"],
        like_count=fields["like_count"],
        version=fields["version"],
        created_at=fields["created_at"],
        updated_at=fields["updated_at"],
        author=author,
        tags=tags,
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
    )
    return build(fields, [tag.name for tag in post.tags])


def fields_of(row: PublicRow) -> PublicFields:
    # A RowMapping reads by label like the TypedDict it is cast to (no copy).
    return cast(PublicFields, row._mapping)


async def fetch(
    session: AsyncSession,
    statement: ColumnSelect[*tuple[Any, ...]],
    params: dict[str, Any] | None = None,
) -> Sequence[PublicRow]:
    # sqlmodel types column results as plain tuples; they are Rows.
    return cast(Sequence[PublicRow], (await session.exec(statement, params=params)).all())


async def tag_names(session: AsyncSession, post_ids: Sequence[int]) -> dict[int, list[str]]:
    """Each post's tag names, sorted; one statement for the whole page."""
    names: dict[int, list[str]] = {post_id: [] for post_id in post_ids}
    if not names:
        return names
    if len(post_ids) == 1:  # `=`: no expanding IN to render for the single post
        result = await session.exec(_TAGS_OF_ONE, params={"post_id": post_ids[0]})
    else:
        result = await session.exec(_TAGS_OF_MANY, params={"post_ids": list(post_ids)})
    for post_id, name in result.all():
        names[post_id].append(name)
    return names


async def to_public(session: AsyncSession, rows: Sequence[PublicRow]) -> list[PostPublic]:
    """Rows of PUBLIC_COLUMNS as PostPublic, their tags in one more statement."""
    fields = [fields_of(row) for row in rows]
    tags_by_post = await tag_names(session, [f["id"] for f in fields])
    return [build(f, tags_by_post[f["id"]]) for f in fields]


async def get_fields(session: AsyncSession, post_id: int) -> PublicFields | None:
    """One post's public columns with its author (no tags), or None."""
    rows = await fetch(session, _BY_ID, {"post_id": post_id})
    return fields_of(rows[0]) if rows else None


async def get_many(session: AsyncSession, post_ids: Sequence[int]) -> list[PostPublic]:
    """Posts by id, in id order, as PostPublic (two statements whatever the count)."""
    if not post_ids:
        return []
    return await to_public(session, await fetch(session, _BY_IDS, {"post_ids": list(post_ids)}))
