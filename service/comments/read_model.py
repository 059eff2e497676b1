"""Comments on the read path: one compiled statement per page shape, rows built by label.

The soft-delete rule is written into these statements (they run below the ORM's filter): a
deleted comment is listed, body and author hidden, only while it still holds replies."""

from collections.abc import Sequence
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import Table, bindparam, exists
from sqlmodel import col
from sqlmodel.sql.expression import Select as ColumnSelect

from service.comments.models import Comment
from service.comments.schemas import CommentPublic
from service.database.reads import CompiledRead, Row
from service.kit.http.routing import construct
from service.kit.pagination import row_limit
from service.users.models import User
from service.users.schemas import UserPublic


def _columns() -> tuple[Any, ...]:
    return (
        col(Comment.id).label("id"),
        col(Comment.post_id).label("post_id"),
        col(Comment.parent_id).label("parent_id"),
        col(Comment.body).label("body"),
        col(Comment.deleted_at).is_not(None).label("deleted"),
        col(Comment.created_at).label("created_at"),
        Comment.reply_count.label("reply_count"),  # type: ignore[attr-defined]
        col(User.id).label("author_id"),
        col(User.username).label("author_username"),
        col(User.display_name).label("author_display_name"),
        col(User.created_at).label("author_created_at"),
    )


def _page(*, top_level: bool, cursor: bool, rows: int) -> ColumnSelect[*tuple[Any, ...]]:
    comments: Table = Comment.__table__  # type: ignore[attr-defined]
    child = comments.alias("child")
    holds_replies = exists().where(child.c.parent_id == comments.c.id)
    parent = (
        col(Comment.parent_id).is_(None)
        if top_level
        else col(Comment.parent_id) == bindparam("parent_id")
    )
    columns: ColumnSelect[*tuple[Any, ...]] = ColumnSelect(*_columns())
    statement = (
        columns.join(User, col(User.id) == col(Comment.author_id))
        .where(col(Comment.post_id) == bindparam("post_id"), parent)
        .where(col(Comment.deleted_at).is_(None) | holds_replies)
    )
    if cursor:
        statement = statement.where(col(Comment.id) > bindparam("after"))
    return statement.order_by(col(Comment.id)).limit(row_limit(rows))


@lru_cache(maxsize=512)
def page(*, top_level: bool, cursor: bool, rows: int) -> CompiledRead:
    """A page's statement of at most `rows` rows (page size + look-ahead), built on first use
    (the model's SQL expressions need the mappers configured, which happens once every model
    is imported). Parameters: post_id, parent_id (replies), after (the last id of the previous
    page)."""
    return CompiledRead(_page(top_level=top_level, cursor=cursor, rows=rows))


@cache
def parent() -> CompiledRead:
    """A comment as the parent of a replies page: its post, whether it is deleted and how many
    replies it shows (deleted or not: a deleted comment that holds replies holds its thread)."""
    columns: ColumnSelect[*tuple[Any, ...]] = ColumnSelect(
        col(Comment.post_id).label("post_id"),
        col(Comment.deleted_at).is_not(None).label("deleted"),
        Comment.reply_count.label("reply_count"),  # type: ignore[attr-defined]
    )
    return CompiledRead(columns.where(col(Comment.id) == bindparam("comment_id")))


def build(row: Row) -> CommentPublic:
    """THE way from a row to a CommentPublic (typed columns: no validation again)."""
    deleted = bool(row["deleted"])
    author = None
    if not deleted:
        author = construct(
            UserPublic,
            {
                "id": row["author_id"],
                "username": row["author_username"],
                "display_name": row["author_display_name"],
                "created_at": row["author_created_at"],
            },
        )
    return construct(
        CommentPublic,
        {
            "id": row["id"],
            "post_id": row["post_id"],
            "parent_id": row["parent_id"],
            "body": None if deleted else row["body"],
            "author": author,
            "deleted": deleted,
            "reply_count": row["reply_count"],
            "created_at": row["created_at"],
        },
    )


def of_entity(comment: Comment) -> CommentPublic:
    """A loaded comment (its `reply_count` undeferred; its author loaded unless it is deleted)
    as the same CommentPublic a page builds: one rule for what a deleted comment hides."""
    fields: dict[str, Any] = {
        "id": comment.id,
        "post_id": comment.post_id,
        "parent_id": comment.parent_id,
        "body": comment.body,
        "deleted": comment.deleted,
        "reply_count": comment.reply_count,
        "created_at": comment.created_at,
    }
    if not comment.deleted:
        author = comment.author
        fields |= {
            "author_id": author.id,
            "author_username": author.username,
            "author_display_name": author.display_name,
            "author_created_at": author.created_at,
        }
    return build(fields)


def to_public(rows: Sequence[Row]) -> list[CommentPublic]:
    return [build(row) for row in rows]
