from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.follows.models import Follow
from service.kit.pagination import SortKey, paginate
from service.notifications.models import Notification

NEWEST_FIRST = SortKey(
    "-created_at", (col(Notification.created_at), col(Notification.id)), descending=True
)
CHUNK = 1000


async def add_for_post(
    session: AsyncSession, *, post_id: int, user_ids: Iterable[int], at: datetime
) -> int:
    """Bulk insert, a chunk of rows per statement; returns the number of rows."""
    rows = [{"user_id": uid, "post_id": post_id, "created_at": at} for uid in user_ids]
    connection = await session.connection()
    statement = insert(Notification.__table__)  # type: ignore[attr-defined]
    for start in range(0, len(rows), CHUNK):
        await connection.execute(statement, rows[start : start + CHUNK])
    return len(rows)


async def follower_id_pages(
    session: AsyncSession, user_id: int, *, size: int = CHUNK
) -> AsyncIterator[list[int]]:
    """The followers of `user_id`, `size` ids at a time (keyset over the follows primary key,
    `follower_id > last`): a fan-out to a million followers never holds the whole list."""
    last = 0
    while True:
        statement = (
            select(Follow.follower_id)
            .where(Follow.followee_id == user_id, col(Follow.follower_id) > last)
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
) -> Sequence[Notification]:
    statement = select(Notification).where(Notification.user_id == user_id)
    return (await session.exec(paginate(statement, NEWEST_FIRST, after, limit))).all()
