import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import exists, func
from sqlalchemy.orm import aliased, joinedload
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.comments.models import Comment
from service.kit.db.soft_delete import INCLUDE_DELETED
from service.kit.pagination import SortKey, paginate

# A time-ordered UUID is unique and increases with time: it is the whole keyset, oldest first.
BY_ID = SortKey("id", (col(Comment.id),), descending=False)


async def get(
    session: AsyncSession, comment_id: uuid.UUID, *, include_deleted: bool = False
) -> Comment | None:
    statement = select(Comment).where(col(Comment.id) == comment_id)
    if include_deleted:
        statement = statement.execution_options(**{INCLUDE_DELETED: True})
    return (await session.exec(statement)).first()


def _has_replies(comment: Any) -> Any:
    reply = aliased(Comment)
    return exists().where(col(reply.parent_id) == col(comment.id))


async def page(
    session: AsyncSession,
    *,
    post_id: int,
    parent_id: uuid.UUID | None,
    after: Sequence[Any] | None,
    limit: int,
) -> Sequence[Comment]:
    """Children of `parent_id` (top level when None): live ones, and deleted ones with replies.

    The soft-delete filter is lifted for this one statement and the rule written out, because a
    deleted comment that has replies must still be shown (as deleted) to hold its thread.
    """
    parent = (
        col(Comment.parent_id).is_(None)
        if parent_id is None
        else col(Comment.parent_id) == parent_id
    )
    statement = (
        select(Comment)
        .options(joinedload(Comment.author, innerjoin=True))  # type: ignore[arg-type]
        .where(col(Comment.post_id) == post_id, parent)
        .where(col(Comment.deleted_at).is_(None) | _has_replies(Comment))
        .execution_options(**{INCLUDE_DELETED: True})
    )
    return (await session.exec(paginate(statement, BY_ID, after, limit))).all()


async def reply_counts(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Shown replies per comment of a page, in one aggregate statement."""
    if not ids:
        return {}
    reply = aliased(Comment)
    statement = (
        select(col(reply.parent_id), func.count())
        .where(col(reply.parent_id).in_(ids))
        .where(col(reply.deleted_at).is_(None) | _has_replies(reply))
        .group_by(col(reply.parent_id))
        .execution_options(**{INCLUDE_DELETED: True})
    )
    rows = (await session.exec(statement)).all()
    return {parent: count for parent, count in rows if parent is not None}
