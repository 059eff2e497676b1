from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, Table, func, insert, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.follows.models import Follow
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


def _followers(post_id: int) -> Select[Any]:
    """The followers of a live post's author (the author aside), by follower id."""
    return (
        select(FOLLOWS.c.follower_id, POSTS.c.author_id)
        .select_from(POSTS.join(FOLLOWS, FOLLOWS.c.followee_id == POSTS.c.author_id))
        .where(
            POSTS.c.id == post_id,
            POSTS.c.status == PostStatus.published.value,
            POSTS.c.deleted_at.is_(None),
            FOLLOWS.c.follower_id != POSTS.c.author_id,
        )
    )


async def add_for_post(
    session: AsyncSession, *, event_id: int, post_id: int, at: datetime, size: int = CHUNK
) -> None:
    """One notification per follower of a live post's author, built in the database (INSERT ...
    SELECT), `size` followers a statement (keyset over follower ids); a recipient already
    notified of this event is skipped, so a re-run job never duplicates. No rows when the post
    is gone or unpublished."""
    connection = await session.connection()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    last = 0
    while True:
        chunk = _followers(post_id).where(FOLLOWS.c.follower_id > last)
        probe = chunk.with_only_columns(FOLLOWS.c.follower_id).order_by(FOLLOWS.c.follower_id)
        bound = (await connection.execute(probe.offset(size - 1).limit(1))).scalar()
        if bound is not None:
            chunk = chunk.where(FOLLOWS.c.follower_id <= bound)
        rows = chunk.with_only_columns(
            literal(event_id, TABLE.c.event_id.type),
            FOLLOWS.c.follower_id,
            POSTS.c.id,
            POSTS.c.author_id,
            literal(at, TABLE.c.created_at.type),
        )
        await connection.execute(
            dialect.insert(TABLE)
            .from_select(["event_id", "user_id", "post_id", "actor_id", "created_at"], rows)
            .on_conflict_do_nothing(index_elements=["event_id", "user_id"])
        )
        if bound is None:
            return
        last = bound


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
