"""The fan-out reads followers page by page (keyset), never the whole list at once (the job
handler `deliver_post_published` iterates these pages; tests/ops/test_notifications.py runs it)."""

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.follows.models import Follow
from service.notifications import repository
from tests.support.accounts import AccountFactory


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
