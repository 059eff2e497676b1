"""The statements of revisions: record one (its number the post's next), a page, one."""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, Table, func, insert, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.pagination import SortKey, paginate
from service.posts.models import EXCERPT_LENGTH
from service.posts.revisions.models import PostRevision
from service.users.models import User

REVISIONS: Table = PostRevision.__table__  # type: ignore[attr-defined]
USERS: Table = User.__table__  # type: ignore[attr-defined]

NEWEST = SortKey("-number", (REVISIONS.c.number,), True)
"""A post's revisions, newest first (the number is unique per post: the whole key)."""

_EDITOR = (
    USERS.c.id.label("editor_id"),
    USERS.c.username.label("editor_username"),
    USERS.c.display_name.label("editor_display_name"),
    USERS.c.created_at.label("editor_created_at"),
)

RevisionRow = RowMapping


async def record(
    session: AsyncSession,
    post_id: int,
    content: Mapping[str, Any],
    *,
    editor_id: int,
    edited_at: datetime,
) -> None:
    """One INSERT: the content an edit replaced, numbered after the post's last revision (the
    caller holds the post's row, so two edits never take one number)."""
    number = (
        select(func.coalesce(func.max(REVISIONS.c.number), 0) + 1)
        .where(REVISIONS.c.post_id == post_id)
        .scalar_subquery()
    )
    statement = insert(REVISIONS).values(
        post_id=post_id,
        number=number,
        title=content["title"],
        body=content["body"],
        tags=list(content["tags"]),
        metadata=content["meta"],
        edited_at=edited_at,
        editor_id=editor_id,
    )
    await (await session.connection()).execute(statement)


async def page(
    session: AsyncSession, post_id: int, *, after: Sequence[Any] | None, limit: int
) -> Sequence[RevisionRow]:
    """A keyset page (plus a look-ahead row) of the post's revisions, with their editors."""
    statement = (
        select(
            REVISIONS.c.number,
            REVISIONS.c.title,
            func.substr(REVISIONS.c.body, 1, EXCERPT_LENGTH).label("excerpt"),
            REVISIONS.c.edited_at,
            *_EDITOR,
        )
        .join(USERS, USERS.c.id == REVISIONS.c.editor_id)
        .where(REVISIONS.c.post_id == post_id)
    )
    result = await (await session.connection()).execute(paginate(statement, NEWEST, after, limit))
    return result.mappings().all()


async def one(session: AsyncSession, post_id: int, number: int) -> RevisionRow | None:
    """The whole revision `number` of the post, with its editor."""
    statement = (
        select(
            REVISIONS.c.post_id,
            REVISIONS.c.number,
            REVISIONS.c.title,
            REVISIONS.c.body,
            REVISIONS.c.tags,
            REVISIONS.c.metadata.label("meta"),
            REVISIONS.c.edited_at,
            *_EDITOR,
        )
        .join(USERS, USERS.c.id == REVISIONS.c.editor_id)
        .where(REVISIONS.c.post_id == post_id, REVISIONS.c.number == number)
    )
    return (await (await session.connection()).execute(statement)).mappings().first()
