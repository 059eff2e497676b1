"""Follow rules: no self-follow, idempotent follow/unfollow, pages of followers. Never commits."""

from collections.abc import Sequence
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from service.follows import repository
from service.follows.models import Follow
from service.kit.errors import BadRequest
from service.users import service as users
from service.users.models import User


async def follow(session: AsyncSession, *, user: User, target_id: int) -> None:
    if user.id == target_id:
        raise BadRequest("You cannot follow yourself.")
    target = await users.get(session, target_id)
    assert user.id is not None
    assert target.id is not None
    await repository.add(session, follower_id=user.id, followee_id=target.id)


async def unfollow(session: AsyncSession, *, user: User, target_id: int) -> None:
    target = await users.get(session, target_id)
    assert user.id is not None
    assert target.id is not None
    await repository.remove(session, follower_id=user.id, followee_id=target.id)


async def followers(
    session: AsyncSession, *, user_id: int, after: Sequence[Any] | None, limit: int
) -> Sequence[Follow]:
    await users.get(session, user_id)
    return await repository.followers(session, user_id=user_id, after=after, limit=limit)


async def following(
    session: AsyncSession, *, user_id: int, after: Sequence[Any] | None, limit: int
) -> Sequence[Follow]:
    await users.get(session, user_id)
    return await repository.following(session, user_id=user_id, after=after, limit=limit)
