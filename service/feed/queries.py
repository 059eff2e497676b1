"""The home feed's compiled read: published posts by the authors the reader follows, newest
first, a keyset page at a time, in one statement.

PostgreSQL: two plans in one statement, and only one of them runs. A reader who follows at
most `FEW` authors gets the newest posts of each from the `(author_id, created_at, id)` index
of live posts (a LATERAL per author), merged; one who follows more walks the newest posts
(the `(created_at, id)` index) and keeps those whose author is in a hash of whom they follow.
The gate is a bounded count of the reader's follows, an InitPlan: the branch whose One-Time
Filter is false is never started. docs/performance.md has the measurements. SQLite: the walk.
"""

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    bindparam,
    func,
    literal_column,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from service.database.reads import CompiledRead, Row
from service.follows.models import Follow
from service.kit.db.dialects import constant
from service.kit.pagination import row_limit
from service.posts.models import Post, PostStatus
from service.posts.queries import SORTS, public_rows
from service.posts.schemas import PostSort

NEWEST = SORTS[PostSort.newest]
FEW = 256
"""At most this many follows: the per-author merge; more: the walk (docs/performance.md)."""

POSTS: Table = Post.__table__  # type: ignore[attr-defined]
FOLLOWS: Table = Follow.__table__  # type: ignore[attr-defined]
_PUBLISHED = constant(PostStatus.published.value)
"""A constant, not a parameter: the partial index of live posts matches only a constant."""


def _live(posts: Any) -> ColumnElement[bool]:
    return and_(posts.c.status == _PUBLISHED, posts.c.deleted_at.is_(None))


def _after(posts: Any) -> ColumnElement[bool]:
    """Rows of `posts` (an alias) strictly after the cursor `after_0`, `after_1`."""
    bound = [bindparam(f"after_{i}", type_=c.type) for i, c in enumerate(NEWEST.columns)]
    return tuple_(posts.c.created_at, posts.c.id) < tuple_(*bound)


def _followed() -> Select[Any]:
    return select(FOLLOWS.c.followee_id).where(FOLLOWS.c.follower_id == bindparam("viewer_id"))


def _newest(posts: Any, statement: Select[Any], cursor: bool, rows: int) -> Select[Any]:
    if cursor:
        statement = statement.where(_after(posts))
    order = (posts.c.created_at.desc(), posts.c.id.desc())
    return statement.order_by(*order).limit(row_limit(rows))


def _postgresql_ids(cursor: bool, rows: int) -> Select[Any]:
    """The ids of the page, from whichever of the two plans the reader's follows select."""
    counted = _followed().limit(row_limit(FEW + 1)).subquery("counted")
    follows = select(func.count()).select_from(counted).scalar_subquery()
    few_follows: ColumnElement[int] = literal_column(str(FEW))  # a constant, not a parameter
    author = POSTS.alias("authored")
    recent = _newest(
        author,
        select(author.c.id, author.c.created_at).where(
            author.c.author_id == FOLLOWS.c.followee_id, _live(author)
        ),
        cursor,
        rows,
    ).lateral("recent")
    few = _newest(
        recent,
        select(recent.c.id, recent.c.created_at)
        .select_from(FOLLOWS.join(recent, true()))
        .where(FOLLOWS.c.follower_id == bindparam("viewer_id"), follows <= few_follows),
        cursor=False,
        rows=rows,
    )
    walked = POSTS.alias("walked")
    # `IS true` keeps the IN a hashed SubPlan (a filter on the walk), not a join to plan around.
    walk = _newest(
        walked,
        select(walked.c.id, walked.c.created_at).where(
            _live(walked), walked.c.author_id.in_(_followed()).is_(true()), follows > few_follows
        ),
        cursor,
        rows,
    )
    page = union_all(few, walk).subquery("page")
    return select(page.c.id)


def _feed(dialect: str, cursor: bool, rows: int) -> Select[Any]:
    statement = public_rows(dialect, seen=True)
    if dialect == "postgresql":
        statement = statement.where(col(Post.id).in_(_postgresql_ids(cursor, rows)))
    else:
        statement = statement.where(
            col(Post.status) == _PUBLISHED, col(Post.author_id).in_(_followed())
        )
        if cursor:
            statement = statement.where(NEWEST.after_bound())
    return statement.order_by(*NEWEST.order_by()).limit(row_limit(rows))


@lru_cache(maxsize=256)
def statement_for(cursor: bool, rows: int) -> CompiledRead:
    """The page, `rows` rows at most, built and compiled once per (cursor, size)."""
    return CompiledRead(_feed("sqlite", cursor, rows), postgresql=_feed("postgresql", cursor, rows))


async def page_rows(
    reader: AsyncConnection, *, viewer_id: int, after: Sequence[Any] | None, limit: int
) -> Sequence[Row]:
    """One page (plus a look-ahead row) of the reader's feed, each row with `bookmarked`."""
    params: dict[str, Any] = {"viewer_id": viewer_id}
    if after is not None:
        params |= NEWEST.bound(after)
    return await statement_for(after is not None, limit + 1).all(reader, **params)
