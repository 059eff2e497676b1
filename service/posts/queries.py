"""The compiled reads of posts (`CompiledRead`: built and compiled once, run on the driver) and
the public columns every read of posts selects (rows become PostPublic in representation.py).

A listing's statement depends only on its shape (which filters are present, the sort, whether a
cursor is given), never on the values: each shape is compiled once, with bound parameters. Only
the metadata filter, whose parameter needs SQLAlchemy's processing, takes the Core path.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    bindparam,
    column,
    exists,
    func,
    literal_column,
    table,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.sql.expression import Select as ColumnSelect

from service.database.reads import CompiledRead, Row
from service.kit.pagination import SortKey, row_limit
from service.posts.fts import fts5_query as fts5_query  # the repository's search reads it here
from service.posts.models import Post
from service.posts.schemas import PostFilter, PostSort
from service.tags.models import PostTag, Tag
from service.users.models import User

SORTS = {
    PostSort.newest: SortKey(PostSort.newest, (col(Post.created_at), col(Post.id)), True),
    PostSort.oldest: SortKey(PostSort.oldest, (col(Post.created_at), col(Post.id)), False),
    PostSort.most_liked: SortKey(PostSort.most_liked, (col(Post.like_count), col(Post.id)), True),
}

# The sort keys (`id`, `created_at`, `like_count`) keep their column names: the pager reads
# the next cursor from the last row by those names.
PUBLIC_COLUMNS: tuple[Any, ...] = (
    col(Post.id).label("id"),
    col(Post.slug).label("slug"),
    col(Post.title).label("title"),
    col(Post.body).label("body"),
    col(Post.status).label("status"),
    col(Post.publish_at).label("publish_at"),
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

WRITTEN_COLUMNS: tuple[Any, ...] = tuple(
    c
    for c in PUBLIC_COLUMNS
    if c.element.table is Post.__table__  # type: ignore[attr-defined]
)
"""The public columns of the posts table alone: what a write returns (the author is the caller)."""

PublicRow = Mapping[str, Any]
"""A result row of the public columns plus `tags`, read by label (representation.PublicFields)."""

# A post's tags in the same statement: a sorted array on PostgreSQL; a JSON array on SQLite
# (sorted when read: SQLite has no ordered aggregate over a correlated subquery).
_TAGS = {
    "postgresql": func.array(
        select(col(Tag.name))
        .join(PostTag, col(PostTag.tag_id) == col(Tag.id))
        .where(col(PostTag.post_id) == col(Post.id))
        .order_by(col(Tag.name))
        .scalar_subquery()
    ),
    "sqlite": select(func.json_group_array(col(Tag.name)))
    .join(PostTag, col(PostTag.tag_id) == col(Tag.id))
    .where(col(PostTag.post_id) == col(Post.id))
    .scalar_subquery(),
}


# bookmarks sits above posts in the import order: a lightweight table clause, not its model.
_bookmarks = table("bookmarks", column("user_id"), column("post_id"))
BOOKMARKED = (
    exists()
    .where(_bookmarks.c.post_id == col(Post.id), _bookmarks.c.user_id == bindparam("viewer_id"))
    .label("bookmarked")
)
"""Whether the viewer (`viewer_id`) bookmarked the row's post: one index probe in the same
statement, only in the shapes of a signed-in reader (anonymous reads do not pay for it)."""


@cache
def public_rows(dialect: str, seen: bool = False) -> ColumnSelect[*tuple[Any, ...]]:
    """Live posts JOIN their authors, as the public columns and their tags (one statement per
    response); `seen`: plus `bookmarked` for the reader `viewer_id`. Soft-deleted posts are
    excluded here, explicitly: the compiled reads run below the ORM's soft-delete filter."""
    extra = (BOOKMARKED,) if seen else ()
    return (
        ColumnSelect(*PUBLIC_COLUMNS, _TAGS[dialect].label("tags"), *extra)
        .join(User, col(User.id) == col(Post.author_id))
        .where(col(Post.deleted_at).is_(None))
    )


def _by_id(seen: bool) -> CompiledRead:
    one = col(Post.id) == bindparam("post_id")
    pg = public_rows("postgresql", seen).where(one)
    return CompiledRead(public_rows("sqlite", seen).where(one), postgresql=pg)


BY_ID = _by_id(seen=False)
"""One post with its author and tags, whatever its status (the service checks visibility)."""
BY_ID_SEEN = _by_id(seen=True)
"""`BY_ID` for a signed-in reader (`viewer_id`): with `bookmarked`."""

_VISIBILITY: ColumnSelect[*tuple[Any, ...]] = ColumnSelect(
    col(Post.status).label("status"), col(Post.author_id).label("author_id")
)
VISIBILITY = CompiledRead(
    _VISIBILITY.where(col(Post.id) == bindparam("post_id"), col(Post.deleted_at).is_(None))
)
"""What decides who may see a live post (for reads of what hangs below it: its comments)."""

# Full text. SQLite's external-content FTS5 table is created by the migration, synced by triggers.
FTS = table("posts_fts")
SEARCH_VECTOR: ColumnElement[Any] = literal_column("posts.search_vector")
# comments sits above posts in the import order: a lightweight table clause, not its model.
_comments = table("comments", column("post_id"), column("author_id"), column("deleted_at"))


def fts_hits(query: Any) -> Select[tuple[Any]]:
    """SQLite: the rowids (post ids) FTS5 matches for `query` (a value or a bound parameter)."""
    return (
        select(literal_column("rowid"))
        .select_from(FTS)
        .where(literal_column("posts_fts").op("MATCH")(query))
    )


@dataclass(frozen=True)
class Shape:
    """What a listing's statement depends on: the filters present, the sort, a cursor."""

    dialect: str
    sort: PostSort
    author: bool
    created_after: bool
    created_before: bool
    tag: bool
    q: bool
    meta: bool
    commented_by: bool
    cursor: bool
    seen: bool = False

    @classmethod
    def of(
        cls, dialect: str, filters: PostFilter, sort: PostSort, cursor: bool, seen: bool = False
    ) -> "Shape":
        return cls(
            dialect,
            sort,
            filters.author_id is not None,
            filters.created_after is not None,
            filters.created_before is not None,
            filters.tag is not None,
            filters.q is not None,
            filters.meta is not None,
            filters.commented_by is not None,
            cursor,
            seen,
        )


def _meta(dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        # `metadata @> '{"key": "value"}'`: served by the GIN (jsonb_path_ops) index.
        return col(Post.meta).op("@>")(bindparam("meta", type_=JSONB))
    return func.json_extract(col(Post.meta), bindparam("meta_path")) == bindparam("meta_value")


def _q(dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        english: ColumnElement[str] = literal_column("'english'")  # a constant, not a parameter
        return SEARCH_VECTOR.op("@@")(func.websearch_to_tsquery(english, bindparam("q")))
    return col(Post.id).in_(fts_hits(bindparam("fts", type_=String)))


@lru_cache(maxsize=1024)
def statement_for(shape: Shape, rows: int) -> CompiledRead:
    """The listing of one shape, `rows` rows at most, built and compiled once."""
    statement = filtered(shape)
    key = SORTS[shape.sort]
    if shape.cursor:
        statement = statement.where(key.after_bound())
    statement = statement.order_by(*key.order_by()).limit(row_limit(rows))
    return CompiledRead(statement, driver=not shape.meta)


def filtered(shape: Shape) -> ColumnSelect[*tuple[Any, ...]]:
    """The rows a shape selects, unordered (the export orders and streams them itself)."""
    statement = public_rows(shape.dialect, shape.seen).where(
        col(Post.status) == bindparam("status", type_=String)
    )
    if shape.author:
        statement = statement.where(col(Post.author_id) == bindparam("author_id"))
    if shape.created_after:
        statement = statement.where(col(Post.created_at) >= bindparam("created_after"))
    if shape.created_before:
        statement = statement.where(col(Post.created_at) < bindparam("created_before"))
    if shape.tag:
        tagged = (
            select(col(PostTag.post_id))
            .join(Tag, col(Tag.id) == col(PostTag.tag_id))
            .where(col(Tag.name) == bindparam("tag"))
        )
        statement = statement.where(col(Post.id).in_(tagged))
    if shape.q:
        statement = statement.where(_q(shape.dialect))
    if shape.meta:
        statement = statement.where(_meta(shape.dialect))
    if shape.commented_by:
        commented = exists().where(
            _comments.c.post_id == col(Post.id),
            _comments.c.author_id == bindparam("commented_by"),
            _comments.c.deleted_at.is_(None),
        )
        statement = statement.where(commented)
    return statement


def parameters(
    filters: PostFilter, after: Sequence[Any] | None, dialect: str
) -> dict[str, Any] | None:
    """The bound values of a listing; None when nothing can match (an empty FTS query)."""
    params: dict[str, Any] = {"status": filters.status.value}
    optional = {
        "author_id": filters.author_id,
        "created_after": filters.created_after,
        "created_before": filters.created_before,
        "tag": filters.tag,
        "commented_by": filters.commented_by,
    }
    params |= {name: value for name, value in optional.items() if value is not None}
    if filters.q is not None:
        if dialect == "postgresql":
            params["q"] = filters.q
        elif (fts := fts5_query(filters.q)) is not None:
            params["fts"] = fts
        else:
            return None
    if filters.meta is not None:
        key, value = filters.meta
        if dialect == "postgresql":
            params["meta"] = {key: value}
        else:
            params |= {"meta_path": f'$."{key}"', "meta_value": value}
    if after is not None:
        params |= {f"after_{i}": v for i, v in enumerate(after)}
    return params


async def page_rows(
    reader: AsyncConnection,
    *,
    filters: PostFilter,
    sort: PostSort,
    after: Sequence[Any] | None,
    limit: int,
    viewer: User | None = None,
) -> Sequence[Row]:
    """One page (plus a look-ahead row) of posts matching `filters` (`GET /posts`); for a
    signed-in `viewer`, each row says whether they bookmarked it."""
    dialect = reader.dialect.name
    params = parameters(filters, after, dialect)
    if params is None:
        return []
    if viewer is not None:
        params["viewer_id"] = viewer.id
    shape = Shape.of(dialect, filters, sort, after is not None, seen=viewer is not None)
    return await statement_for(shape, limit + 1).all(reader, **params)
