"""The fan-out builds the notifications in the database (INSERT ... SELECT), a keyset chunk of
followers per statement, never the followers in Python (the job handler
`deliver_post_published`; tests/ops/test_notifications.py runs it through the worker)."""

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.follows.models import Follow
from service.notifications import repository
from service.posts.models import Post, PostStatus
from tests.support.accounts import AccountFactory
from tests.support.statements import StatementCounter

AT = datetime(2026, 1, 2, tzinfo=UTC)


async def _post(session: AsyncSession, author_id: int, status: PostStatus) -> int:
    post = Post(
        author_id=author_id, title="t", slug=f"fan-out-{status.value}", body="b", status=status
    )
    session.add(post)
    await session.flush()
    assert post.id is not None
    return post.id


async def _recipients(session: AsyncSession, event_id: int) -> list[int]:
    rows = await (await session.connection()).execute(
        select(repository.TABLE.c.user_id)
        .where(repository.TABLE.c.event_id == event_id)
        .order_by(repository.TABLE.c.user_id)
    )
    return list(rows.scalars())


async def test_every_follower_once_in_chunks_and_a_re_run_adds_nothing(
    sessionmaker: async_sessionmaker[AsyncSession],
    make_account: AccountFactory,
    statements: StatementCounter,
) -> None:
    author = await make_account()
    followers = [await make_account() for _ in range(5)]
    async with sessionmaker() as session, session.begin():
        session.add_all(Follow(follower_id=f.id, followee_id=author.id) for f in followers)
        post_id = await _post(session, author.id, PostStatus.published)
    async with sessionmaker() as session, session.begin():
        await session.connection()  # the transaction (a SAVEPOINT in the tests) begins first
        before = statements.count
        await repository.add_for_post(session, event_id=7, post_id=post_id, at=AT, size=2)
        # Chunks of 2 over 5 followers: one INSERT ... SELECT each, the third short (the last).
        assert statements.count - before == 3
        assert await _recipients(session, 7) == sorted(f.id for f in followers)
        await repository.add_for_post(session, event_id=7, post_id=post_id, at=AT, size=2)
        assert await _recipients(session, 7) == sorted(f.id for f in followers)


async def test_no_notifications_for_a_post_that_is_not_published(
    sessionmaker: async_sessionmaker[AsyncSession], make_account: AccountFactory
) -> None:
    author = await make_account()
    follower = await make_account()
    async with sessionmaker() as session, session.begin():
        session.add(Follow(follower_id=follower.id, followee_id=author.id))
        post_id = await _post(session, author.id, PostStatus.draft)
        await repository.add_for_post(session, event_id=8, post_id=post_id, at=AT)
        assert await _recipients(session, 8) == []
