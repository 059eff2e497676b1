"""Follow rules: no self-follow, idempotent follow/unfollow, pages of followers. Never commits."""

from sqlmodel.ext.asyncio.session import AsyncSession

from service.follows import repository
from service.follows.schemas import FollowPublic
from service.kit.errors import BadRequest
from service.kit.pagination import Page, Pager
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


async def followers(session: AsyncSession, *, user_id: int, pager: Pager) -> Page[FollowPublic]:
    await users.get(session, user_id)
    key = repository.FOLLOWERS
    rows = await repository.followers(
        session, user_id=user_id, after=pager.after(key), limit=pager.limit
    )
    items, next_cursor = pager.page(rows, key)
    return Page(
        items=[FollowPublic(user=f.follower, followed_at=f.followed_at) for f in items],  # type: ignore[arg-type]
        next_cursor=next_cursor,
    )


async def following(session: AsyncSession, *, user_id: int, pager: Pager) -> Page[FollowPublic]:
    await users.get(session, user_id)
    key = repository.FOLLOWING
    rows = await repository.following(
        session, user_id=user_id, after=pager.after(key), limit=pager.limit
    )
    items, next_cursor = pager.page(rows, key)
    return Page(
        items=[FollowPublic(user=f.followee, followed_at=f.followed_at) for f in items],  # type: ignore[arg-type]
        next_cursor=next_cursor,
    )
