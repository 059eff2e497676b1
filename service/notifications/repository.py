from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Insert, Row, Table, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.follows.models import Follow
from service.kit.db.dialects import constant
from service.kit.pagination import SortKey, paginate
from service.notifications.models import Notification
from service.posts.models import Post, PostStatus
from service.users.models import User

NEWEST_FIRST = SortKey(
    "-created_at", (col(Notification.created_at), col(Notification.id)), descending=True
)
CHUNK = 1000
TABLE: Table = Notification.__table__  # type: ignore[attr-defined]
FOLLOWS: Table = Follow.__table__  # type: ignore[attr-defined]
POSTS: Table = Post.__table__  # type: ignore[attr-defined]


@lru_cache(maxsize=8)
def _fan_out(dialect: str, size: int) -> Insert:
    """The next `size` followers (by id, above `after`) of a live post's author, the author
    aside, each given a notification; RETURNING who got one (a recipient already notified of
    the event is skipped)."""
    rows = (
        select(
            bindparam("event_id", type_=TABLE.c.event_id.type),
            FOLLOWS.c.follower_id,
            POSTS.c.id,
            POSTS.c.author_id,
            bindparam("at", type_=TABLE.c.created_at.type),
        )
        .select_from(POSTS.join(FOLLOWS, FOLLOWS.c.followee_id == POSTS.c.author_id))
        .where(
            POSTS.c.id == bindparam("post_id"),
            POSTS.c.status == constant(PostStatus.published.value),
            POSTS.c.deleted_at.is_(None),
            FOLLOWS.c.follower_id != POSTS.c.author_id,
            FOLLOWS.c.follower_id > bindparam("after"),
        )
        .order_by(FOLLOWS.c.follower_id)
        .limit(size)
    )
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(TABLE)
        .from_select(["event_id", "user_id", "post_id", "actor_id", "created_at"], rows)
        .on_conflict_do_nothing(index_elements=["event_id", "user_id"])
        .returning(TABLE.c.user_id)
    )


async def add_for_post(
    session: AsyncSession, *, event_id: int, post_id: int, at: datetime, size: int = CHUNK
) -> None:
    """One notification per follower of a live post's author, built in the database (INSERT ...
    SELECT), `size` followers a statement; none when the post is gone or unpublished.

    A chunk that notified fewer than `size` is the last: a job runs in one transaction, so a
    re-run finds either nothing of a former run (it rolled back) or all of it (committed)."""
    connection = await session.connection()
    statement = _fan_out(connection.dialect.name, size)
    params = {"event_id": event_id, "post_id": post_id, "at": at, "after": 0}
    while True:
        notified = (await connection.execute(statement, params)).scalars().all()
        if len(notified) < size:
            return
        params["after"] = max(notified)


async def add_notice(session: AsyncSession, *, user_id: int, type: str, at: datetime) -> None:
    """A notice about the account itself (no post, no actor)."""
    await (await session.connection()).execute(
        insert(TABLE).values(user_id=user_id, type=type, created_at=at)
    )


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
