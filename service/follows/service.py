"""Follow rules: no self-follow, idempotent follow/unfollow, pages of followers. Never commits."""

from sqlmodel.ext.asyncio.session import AsyncSession

from service.follows import events, repository
from service.follows.schemas import FollowPublic
from service.jobs.outbox import Outbox
from service.kit.errors import BadRequest
from service.kit.pagination import Page, Pager
from service.users import service as users
from service.users.models import User


async def follow(session: AsyncSession, outbox: Outbox, *, user: User, target_id: int) -> None:
    if user.id == target_id:
        raise BadRequest("You cannot follow yourself.")
    target = await users.get(session, target_id)
    assert user.id is not None
    assert target.id is not None
    if await repository.add(session, follower_id=user.id, followee_id=target.id):
        await events.added(outbox, session, follower_id=user.id, followee_id=target.id)


async def unfollow(session: AsyncSession, *, user: User, target_id: int) -> None:
    target = await users.get(session, target_id)
    assert user.id is not None
    assert target.id is not None
    await repository.remove(session, follower_id=user.id, followee_id=target.id)


async def followers(session: AsyncSession, *, user_id: int, pager: Pager) -> Page[FollowPublic]:
    return await _page(session, repository.FOLLOWERS_OF, user_id, pager)


async def following(session: AsyncSession, *, user_id: int, pager: Pager) -> Page[FollowPublic]:
    return await _page(session, repository.FOLLOWED_BY, user_id, pager)


async def _page(
    session: AsyncSession, side: repository.Side, user_id: int, pager: Pager
) -> Page[FollowPublic]:
    await users.get(session, user_id)  # 404 for a missing user, not an empty page
    rows = await repository.page(
        session, side, user_id=user_id, after=pager.after(side.key), limit=pager.limit
    )
    items, next_cursor = pager.page(rows, side.key)
    name = side.shown.key  # "follower" or "followee"
    return Page(
        items=[FollowPublic(user=getattr(f, name), followed_at=f.followed_at) for f in items],
        next_cursor=next_cursor,
    )
