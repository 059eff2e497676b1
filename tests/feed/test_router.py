"""`GET /users/me/feed`: the posts of whom you follow, newest first, keyset pages."""

from datetime import UTC, datetime

from httpx import AsyncClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.posts.models import Post
from tests.support.accounts import Account, AccountFactory
from tests.support.api import API, POSTS, create_post, pages, problem

FEED = f"{API}/users/me/feed"


async def _follow(client: AsyncClient, reader: Account, *authors: Account) -> None:
    for author in authors:
        response = await client.put(f"{API}/users/{author.id}/follow", headers=reader.headers)
        assert response.status_code == 204, response.text


async def _ids(client: AsyncClient, reader: Account, **params: int) -> list[int]:
    listed = await pages(client, FEED, headers=reader.headers, **params)
    return [post["id"] for page in listed for post in page]


async def test_the_feed_is_the_published_posts_of_whom_you_follow_newest_first(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    reader, alice, bob, stranger = [await make_account() for _ in range(4)]
    await _follow(client, reader, alice, bob)
    mine = [
        (await create_post(client, author, title=f"post {i}"))["id"]
        for i, author in enumerate((alice, bob, alice, stranger, bob))
    ]
    await create_post(client, alice, status="draft")
    await create_post(client, reader)  # your own posts are not in your feed
    deleted = (await create_post(client, bob))["id"]
    assert (await client.delete(f"{POSTS}/{deleted}", headers=bob.headers)).status_code == 204
    expected = [mine[4], mine[2], mine[1], mine[0]]
    assert await _ids(client, reader) == expected
    assert await _ids(client, reader, limit=1) == expected
    first = (await client.get(FEED, headers=reader.headers)).json()["items"][0]
    assert first == (await client.get(f"{POSTS}/{mine[4]}", headers=reader.headers)).json()


async def test_unfollowing_drops_an_author_and_an_empty_feed_is_an_empty_page(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    reader, alice = await make_account(), await make_account()
    await create_post(client, alice)
    assert (await client.get(FEED, headers=reader.headers)).json() == {
        "items": [],
        "next_cursor": None,
    }
    await _follow(client, reader, alice)
    assert len(await _ids(client, reader)) == 1
    await client.delete(f"{API}/users/{alice.id}/follow", headers=reader.headers)
    assert await _ids(client, reader) == []


async def test_equal_creation_times_are_neither_skipped_nor_repeated(
    client: AsyncClient,
    make_account: AccountFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    reader, alice, bob = [await make_account() for _ in range(3)]
    await _follow(client, reader, alice, bob)
    ids = [(await create_post(client, a))["id"] for a in (alice, bob, alice, bob, alice)]
    same = datetime(2026, 6, 1, tzinfo=UTC)
    async with sessionmaker() as session, session.begin():
        await session.exec(update(Post).where(col(Post.id).in_(ids)).values(created_at=same))
    assert await _ids(client, reader, limit=2) == sorted(ids, reverse=True)


async def test_a_cursor_is_stable_under_concurrent_inserts(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    reader, alice = await make_account(), await make_account()
    await _follow(client, reader, alice)
    ids = [(await create_post(client, alice))["id"] for _ in range(4)]
    first = (await client.get(FEED, params={"limit": 2}, headers=reader.headers)).json()
    await create_post(client, alice)  # newer than everything: belongs before page one
    rest = await client.get(
        FEED, params={"limit": 2, "cursor": first["next_cursor"]}, headers=reader.headers
    )
    seen = [p["id"] for p in first["items"]] + [p["id"] for p in rest.json()["items"]]
    assert seen == ids[::-1]


async def test_the_feed_needs_a_token_and_a_cursor_the_server_issued(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    reader, alice = await make_account(), await make_account()
    problem(await client.get(FEED), 401)
    problem(await client.get(FEED, params={"cursor": "x.y"}, headers=reader.headers), 400)
    await _follow(client, reader, alice)
    for _ in range(2):
        await create_post(client, alice)
    listing = (await client.get(f"{POSTS}", params={"limit": 1})).json()
    # A cursor of `GET /posts` belongs to that listing, not to the feed.
    problem(
        await client.get(FEED, params={"cursor": listing["next_cursor"]}, headers=reader.headers),
        400,
    )
