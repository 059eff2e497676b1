import uuid
from typing import Any

from sqlalchemy.orm import joinedload, selectinload, undefer
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.comments.models import Comment
from service.database.session_rules import INCLUDE_DELETED
from service.kit.pagination import SortKey

# A time-ordered UUID is unique and increases with time: it is the whole keyset, oldest first.
BY_ID = SortKey("id", (col(Comment.id),), descending=False)


async def get(
    session: AsyncSession, comment_id: uuid.UUID, *, include_deleted: bool = False
) -> Comment | None:
    statement = select(Comment).where(col(Comment.id) == comment_id)
    if include_deleted:
        statement = statement.execution_options(**{INCLUDE_DELETED: True})
    return (await session.exec(statement)).first()


def _author_and_counts() -> Any:
    """The author (one JOIN) and `reply_count` (the column_property, in the same SELECT)."""
    return (joinedload(Comment.author, innerjoin=True), undefer(Comment.reply_count))  # type: ignore[arg-type]


async def with_counts(
    session: AsyncSession, comment_id: uuid.UUID, *, refresh: bool = False
) -> Comment | None:
    """A comment, deleted or not (the caller applies the visibility rule), with its author and
    `reply_count`: one statement. `refresh`: the session already holds it (reload its state)."""
    statement = (
        select(Comment)
        .where(col(Comment.id) == comment_id)
        .options(*_author_and_counts())
        .execution_options(**{INCLUDE_DELETED: True}, populate_existing=refresh)
    )
    return (await session.exec(statement)).first()


async def thread(session: AsyncSession, comment_id: uuid.UUID, depth: int) -> Comment | None:
    """A comment and `depth` levels of replies below it: 1 + depth statements, whatever the
    number of replies (`selectinload` over the self-referential `replies`, level by level).

    Deleted comments are loaded too (the filter is lifted): the service shows those that still
    hold replies, as deleted, like a page does.
    """
    statement = (
        select(Comment)
        .where(col(Comment.id) == comment_id)
        .options(
            *_author_and_counts(),
            selectinload(Comment.replies, recursion_depth=depth - 1).options(*_author_and_counts()),  # type: ignore[arg-type]
        )
        .execution_options(**{INCLUDE_DELETED: True})
    )
    return (await session.exec(statement)).first()
