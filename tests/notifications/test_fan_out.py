"""The fan-out reads followers page by page (keyset), never the whole list at once."""

from httpx import AsyncClient
from sqlalchemy import func
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.follows.models import Follow
from service.notifications import repository
from service.notifications.models import Notification
from service.notifications.service import fan_out_new_post
from tests.support.accounts import AccountFactory
from tests.support.api import create_post


async def test_follower_pages_cover_every_follower_once(
    sessionmaker: async_sessionmaker[AsyncSession], make_account: AccountFactory
) -> None:
    author = await make_account()
    followers = [await make_account() for _ in range(5)]
    async with sessionmaker() as session, session.begin():
        session.add_all(Follow(follower_id=f.id, followee_id=author.id) for f in followers)
    async with sessionmaker() as session:
        pages = [page async for page in repository.follower_id_pages(session, author.id, size=2)]
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [uid for page in pages for uid in page] == sorted(f.id for f in followers)


async def test_fan_out_notifies_every_follower_through_the_pages(
    client: AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    make_account: AccountFactory,
) -> None:
    author = await make_account()
    followers = [await make_account() for _ in range(3)]
    async with sessionmaker() as session, session.begin():
        session.add_all(Follow(follower_id=f.id, followee_id=author.id) for f in followers)
    post = await create_post(client, author, status="draft")
    assert await fan_out_new_post(sessionmaker, post_id=post["id"]) == 3
    async with sessionmaker() as session:
        count = select(func.count()).where(col(Notification.post_id) == post["id"])
        assert (await session.exec(count)).one() == 3
