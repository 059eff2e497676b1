from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, column, table, update
from sqlalchemy import select as core_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.db import dialects
from service.kit.model_base import utcnow
from service.kit.pagination import SortKey, paginate
from service.users.models import Profile, User

PROFILES: Table = Profile.__table__  # type: ignore[attr-defined]

USERS_BY_ID = SortKey("id", (col(User.id),), descending=False)


async def get_by_id(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def get_by_username(session: AsyncSession, username: str) -> User | None:
    result = await session.exec(select(User).where(User.username == username))
    return result.first()


async def list_page(
    session: AsyncSession, *, after: Sequence[Any] | None, limit: int
) -> Sequence[User]:
    statement = paginate(select(User), USERS_BY_ID, after, limit)
    return (await session.exec(statement)).all()


async def get_profile(session: AsyncSession, user_id: int) -> Profile | None:
    return (await session.exec(select(Profile).where(Profile.user_id == user_id))).first()


async def put_profile(session: AsyncSession, user_id: int, fields: dict[str, Any]) -> Profile:
    """Insert or replace in one statement (`ON CONFLICT (user_id) DO UPDATE`): race-free."""
    now = utcnow()
    statement = (
        dialects.insert(session, Profile)
        .values(user_id=user_id, created_at=now, updated_at=now, **fields)
        .on_conflict_do_update(index_elements=["user_id"], set_={**fields, "updated_at": now})
        .returning(*PROFILES.c)
    )
    row = (await session.exec(statement)).one()
    return Profile.model_validate(dict(row._mapping))


_posts = table("posts", column("id"), column("like_count"))
_likes = table("post_likes", column("post_id"), column("user_id"))


async def unlike_all(session: AsyncSession, user_id: int) -> None:
    """Take the user's likes off the counters before the cascade deletes the like rows.

    Lightweight table clauses (not the posts models): users sits below posts in the import
    order. Core UPDATE, like the like endpoint: counters move without bumping `version`.
    """
    liked = core_select(_likes.c.post_id).where(_likes.c.user_id == user_id)
    await session.exec(
        update(_posts).where(_posts.c.id.in_(liked)).values(like_count=_posts.c.like_count - 1)
    )
