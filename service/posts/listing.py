"""`GET /posts`: the filtered, keyset-paginated read model, one statement per page.

A listing's statement depends only on its shape (which filters are present, the sort, whether
a cursor is given), never on the values: each shape is built and compiled once, with bound
parameters, and run on the read connection (`CompiledRead`). Only full-text (`q`) and metadata
(`meta`) filters, whose parameters need SQLAlchemy's processing, take the Core path.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
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

from service.kit.db.reads import CompiledRead, Row
from service.kit.pagination import row_limit
from service.posts import read_model
from service.posts.models import Post
from service.posts.schemas import PostFilter, PostSort
from service.posts.search import SEARCH_VECTOR, fts5_query, fts_hits
from service.tags.models import PostTag, Tag

# comments sits above posts in the import order: a lightweight table clause, not its model.
_comments = table("comments", column("post_id"), column("author_id"), column("deleted_at"))


@dataclass(frozen=True)
class Shape:
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

    @classmethod
    def of(cls, dialect: str, filters: PostFilter, sort: PostSort, cursor: bool) -> "Shape":
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
    from service.posts.repository import SORTS  # the sort keys live with the other queries

    statement = filtered(shape)
    key = SORTS[shape.sort]
    if shape.cursor:
        statement = statement.where(key.after_bound())
    statement = statement.order_by(*key.order_by()).limit(row_limit(rows))
    return CompiledRead(statement, driver=not shape.meta)


def filtered(shape: Shape) -> ColumnSelect[*tuple[Any, ...]]:
    """The rows a shape selects, unordered (the export orders and streams them itself)."""
    statement = read_model.public_rows(shape.dialect).where(
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
) -> Sequence[Row]:
    """One page (plus a look-ahead row) of posts matching `filters`."""
    dialect = reader.dialect.name
    params = parameters(filters, after, dialect)
    if params is None:
        return []
    shape = Shape.of(dialect, filters, sort, after is not None)
    return await statement_for(shape, limit + 1).all(reader, **params)
