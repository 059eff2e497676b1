from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlmodel
from sqlalchemy import Row, Table, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.follows.models import Follow
from service.kit.pagination import SortKey, paginate
from service.notifications.models import Notification
from service.users.models import User

NEWEST_FIRST = SortKey(
    "-created_at", (col(Notification.created_at), col(Notification.id)), descending=True
)
CHUNK = 1000
TABLE: Table = Notification.__table__  # type: ignore[attr-defined]


async def add_for_event(
    session: AsyncSession,
    *,
    event_id: int,
    post_id: int,
    actor_id: int,
    user_ids: Iterable[int],
    at: datetime,
) -> int:
    """One row per recipient, a chunk per statement; a recipient already notified of this event
    is skipped (ON CONFLICT DO NOTHING), so a re-run job never duplicates."""
    rows = [
        {
            "event_id": event_id,
            "user_id": uid,
            "post_id": post_id,
            "actor_id": actor_id,
            "created_at": at,
        }
        for uid in user_ids
    ]
    connection = await session.connection()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(TABLE).on_conflict_do_nothing(index_elements=["event_id", "user_id"])
    written = 0
    for start in range(0, len(rows), CHUNK):
        result = await connection.execute(statement, rows[start : start + CHUNK])
        written += max(0, int(result.rowcount))
    return written


async def add_notice(session: AsyncSession, *, user_id: int, type: str, at: datetime) -> None:
    """A notice about the account itself (no post, no actor)."""
    await (await session.connection()).execute(
        insert(TABLE).values(user_id=user_id, type=type, created_at=at)
    )


async def follower_id_pages(
    session: AsyncSession, user_id: int, *, size: int = CHUNK
) -> AsyncIterator[list[int]]:
    """The followers of `user_id`, `size` ids at a time (keyset over the follows primary key,
    `follower_id > last`): a fan-out to a million followers never holds the whole list."""
    last = 0
    while True:
        statement = (
            sqlmodel.select(col(Follow.follower_id))
            .where(col(Follow.followee_id) == user_id, col(Follow.follower_id) > last)
            .order_by(col(Follow.follower_id))
            .limit(size)
        )
        page = list((await session.exec(statement)).all())
        if page:
            yield page
        if len(page) < size:
            return
        last = page[-1]


async def list_page(
    session: AsyncSession, *, user_id: int, after: Sequence[Any] | None, limit: int
) -> Sequence[Row[Any]]:
    """One statement: the page with each notification's actor (rows read by label)."""
    statement = (
        select(
            TABLE.c.id,
            TABLE.c.type,
            TABLE.c.post_id,
            TABLE.c.created_at,
            TABLE.c.read_at,
            col(User.id).label("actor_id"),
            col(User.username).label("actor_username"),
            col(User.display_name).label("actor_display_name"),
        )
        .select_from(TABLE)
        .outerjoin(User, col(User.id) == TABLE.c.actor_id)
        .where(TABLE.c.user_id == user_id)
    )
    return (
        await (await session.connection()).execute(paginate(statement, NEWEST_FIRST, after, limit))
    ).all()


async def unread_count(session: AsyncSession, *, user_id: int) -> int:
    statement = select(func.count()).where(TABLE.c.user_id == user_id, TABLE.c.read_at.is_(None))
    return int((await (await session.connection()).execute(statement)).scalar_one())


async def mark_read(
    session: AsyncSession, *, user_id: int, up_to_id: int | None, at: datetime
) -> int:
    statement = update(TABLE).where(TABLE.c.user_id == user_id, TABLE.c.read_at.is_(None))
    if up_to_id is not None:
        statement = statement.where(TABLE.c.id <= up_to_id)
    return int((await (await session.connection()).execute(statement.values(read_at=at))).rowcount)
