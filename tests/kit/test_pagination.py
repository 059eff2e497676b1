"""Keyset pagination: never skips or repeats a row, in either direction, with equal sort keys
and with rows inserted between page fetches; cursors are tamper-evident."""

import random
import uuid
from datetime import timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from loadtests.cursors import OLDEST, Cursors
from service.kit.model_base import utcnow
from service.kit.pagination import CursorCodec, listing_digest
from service.posts.models import Post, PostStatus
from service.posts.queries import SORTS
from service.posts.schemas import PostSort
from tests.support.accounts import Account, AccountFactory
from tests.support.problems import assert_problem

POSTS = "/api/v1/posts"


async def _insert_posts(
    sessionmaker: async_sessionmaker[Any], author: Account, created: list[Any]
) -> list[int]:
    session: AsyncSession
    async with sessionmaker() as session, session.begin():
        posts = [
            Post(
                author_id=author.id,
                title=f"p{i}",
                slug=f"p{i}-{uuid.uuid4().hex}",
                body="b",
                status=PostStatus.published,
                created_at=at,
                updated_at=at,
            )
            for i, at in enumerate(created)
        ]
        session.add_all(posts)
        await session.flush()
        return [p.id for p in posts if p.id is not None]


async def _walk(
    client: AsyncClient, params: dict[str, Any], between_pages: Any = None
) -> list[int]:
    seen: list[int] = []
    cursor = None
    while True:
        query = params | ({"cursor": cursor} if cursor else {})
        response = await client.get(POSTS, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
        if between_pages is not None:
            await between_pages()


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("sort", ["-created_at", "created_at"])
async def test_pages_cover_every_row_once_with_equal_keys_and_concurrent_inserts(
    client: AsyncClient,
    make_account: AccountFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    seed: int,
    sort: str,
) -> None:
    rng = random.Random(seed)
    author = await make_account()
    base = utcnow() - timedelta(days=1)
    # Only four distinct timestamps for 40 rows: most sort keys are equal.
    stamps = [base + timedelta(seconds=rng.randrange(4)) for _ in range(40)]
    existing = await _insert_posts(sessionmaker, author, stamps)

    async def insert_more() -> None:
        # New rows land before, among and after the rows already paged through.
        at = base + timedelta(seconds=rng.randrange(-1, 6))
        await _insert_posts(sessionmaker, author, [at, at])

    seen = await _walk(
        client,
        {"author_id": author.id, "sort": sort, "limit": rng.choice([1, 3, 7])},
        insert_more,
    )
    assert len(seen) == len(set(seen)), "a row was repeated"
    assert set(existing) <= set(seen), "a row was skipped"


async def test_tampered_malformed_or_foreign_cursors_are_400(
    client: AsyncClient,
    make_account: AccountFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    author = await make_account()
    await _insert_posts(sessionmaker, author, [utcnow()] * 3)
    first = (await client.get(POSTS, params={"author_id": author.id, "limit": 1})).json()
    cursor = first["next_cursor"]
    body, signature = cursor.split(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + signature
    for bad in (forged, cursor + "x", "garbage", "a.b", "....", "%%%"):
        assert_problem(await client.get(POSTS, params={"cursor": bad}), 400)
    other_sort = {"cursor": cursor, "sort": "created_at"}
    assert_problem(await client.get(POSTS, params=other_sort), 400)


async def test_a_cursor_is_bound_to_its_listing(
    client: AsyncClient,
    make_account: AccountFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    author = await make_account()
    await _insert_posts(sessionmaker, author, [utcnow()] * 3)
    unfiltered = (await client.get(POSTS, params={"limit": 1})).json()["next_cursor"]
    filtered = {"author_id": author.id, "limit": 1}
    by_author = (await client.get(POSTS, params=filtered)).json()["next_cursor"]
    for params in (
        {"cursor": unfiltered, "author_id": author.id},  # a filter added
        {"cursor": by_author},  # a filter dropped
        {"cursor": by_author, "author_id": author.id + 1},  # another value
        {"cursor": unfiltered, "sort": "-created_at"},  # the default, but written out
    ):
        problem = assert_problem(await client.get(POSTS, params=params), 400)
        assert "another listing" in problem["detail"]
    # The same listing continues whatever the page size, parameters in any order.
    again = await client.get(
        POSTS, params={"limit": 2, "cursor": by_author, "author_id": author.id}
    )
    assert again.status_code == 200, again.text


def test_codec_round_trip_and_key_separation() -> None:
    sort = SORTS[PostSort.newest]
    now = utcnow()
    listing = listing_digest("/api/v1/posts", [])
    codec = CursorCodec("secret-one-0123456789-0123456789-01")
    assert codec.decode(codec.encode(sort, [now, 42], listing), sort, listing) == [now, 42]
    other = CursorCodec("secret-two-0123456789-0123456789-01")
    with pytest.raises(Exception, match="not valid"):
        other.decode(codec.encode(sort, [now, 42], listing), sort, listing)


def test_listing_digest_ignores_paging_and_order_only() -> None:
    base = listing_digest("/api/v1/posts", [("author_id", "5"), ("sort", "created_at")])
    same = [("limit", "3"), ("sort", "created_at"), ("cursor", "x"), ("author_id", "5")]
    assert listing_digest("/api/v1/posts", same) == base
    assert listing_digest("/api/v1/posts", [("author_id", "6"), ("sort", "created_at")]) != base
    assert listing_digest("/api/v1/posts", [("sort", "created_at")]) != base
    assert listing_digest("/api/v1/users", [("author_id", "5"), ("sort", "created_at")]) != base


def test_the_load_test_cursors_are_the_service_cursors() -> None:
    """loadtests/cursors.py mirrors the codec (the reference apps answer the same
    `next_cursor`, the bench mints probe cursors with it): the two must not drift."""
    secret = "secret-one-0123456789-0123456789-01"
    query = [("sort", "created_at"), ("status", "published"), ("limit", "20")]
    listing = listing_digest("/api/v1/posts", query)
    mirror = Cursors(secret)
    assert mirror.listing("/api/v1/posts", query) == listing
    sort = SORTS[PostSort.oldest]
    values = [utcnow(), 42]
    cursor = CursorCodec(secret).encode(sort, values, listing)
    assert mirror.encode(OLDEST, values, listing) == cursor
    assert mirror.decode(cursor, OLDEST, listing) == values
