"""Writes, search and export budgets per user (per address when anonymous): RateLimit-* headers
on every limited answer, a 429 problem with Retry-After naming the setting past the budget; in
memory per instance, and shared by every instance through the real Redis."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import redis.asyncio as redis
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.main import create_app
from service.ratelimit.limiter import RATE_LIMITER
from service.settings import Settings
from tests.support.accounts import AccountFactory
from tests.support.problems import assert_problem
from tests.support.redis_store import emptied_redis
from tests.support.sessions import bind_sessions
from tests.support.settings import make_settings

POSTS = "/api/v1/posts"
PROFILE = "/api/v1/users/me/profile"
"""A database number of its own on the machine's Redis (`.ci/run` starts one)."""

# The limiter never touches the database: one backend is enough.
pytestmark = pytest.mark.sqlite_only


def _app(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], **limits: str
) -> FastAPI:
    app = create_app(make_settings(settings.database_url, **limits))
    bind_sessions(app, sessionmaker)
    return app


@asynccontextmanager
async def _client(app: FastAPI, address: str = "10.9.0.1") -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app, client=(address, 40000))
    async with AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def _post(app: FastAPI, headers: dict[str, str]) -> Response:
    """A write (PUT /users/me/profile: it needs no lifespan-made state)."""
    async with _client(app) as client:
        return await client.put(PROFILE, json={"bio": "b"}, headers=headers)


def _assert_refused(response: Response, setting: str) -> None:
    body = assert_problem(response, 429)
    assert setting in body["detail"]
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["ratelimit-remaining"] == "0"


async def test_writes_are_limited_per_user_with_headers(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], make_account: AccountFactory
) -> None:
    app = _app(settings, sessionmaker, write_rate_limit="2/minute")
    author, other = await make_account(), await make_account()
    first = await _post(app, author.headers)
    assert first.status_code == 200
    assert first.headers["ratelimit-limit"] == "2"
    assert first.headers["ratelimit-remaining"] == "1"
    assert 1 <= int(first.headers["ratelimit-reset"]) <= 60
    assert (await _post(app, author.headers)).status_code == 200
    _assert_refused(await _post(app, author.headers), "WRITE_RATE_LIMIT")
    assert (await _post(app, other.headers)).status_code == 200  # a budget per user


async def test_anonymous_writes_are_limited_per_address(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    app = _app(settings, sessionmaker, write_rate_limit="1/minute")

    async def register(address: str) -> Response:
        name = f"anon_{uuid.uuid4().hex[:8]}"
        account = {"username": name, "email": f"{name}@example.com", "password": "p" * 12}
        async with _client(app, address) as client:
            return await client.post("/api/v1/users", json=account)

    assert (await register("10.9.1.1")).status_code == 201
    _assert_refused(await register("10.9.1.1"), "WRITE_RATE_LIMIT")
    assert (await register("10.9.1.2")).status_code == 201


async def test_search_is_limited_both_ways_in(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """/posts/search and /posts?q= share one budget; a listing without q is not a search."""
    app = _app(settings, sessionmaker, search_rate_limit="2/minute")
    async with _client(app, "10.9.2.1") as client:
        assert (await client.get(f"{POSTS}/search?q=word")).status_code == 200
        assert (await client.get(f"{POSTS}?q=word")).status_code == 200
        _assert_refused(await client.get(f"{POSTS}/search?q=word"), "SEARCH_RATE_LIMIT")
        _assert_refused(await client.get(f"{POSTS}?q=word"), "SEARCH_RATE_LIMIT")
        listing = await client.get(POSTS)
        assert listing.status_code == 200
        assert "ratelimit-limit" not in listing.headers


async def test_off_disables_a_limit(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], make_account: AccountFactory
) -> None:
    app = _app(settings, sessionmaker, write_rate_limit="off")
    author = await make_account()
    for _ in range(3):
        response = await _post(app, author.headers)
        assert response.status_code == 200
        assert "ratelimit-limit" not in response.headers


def test_a_malformed_limit_fails_at_start(settings: Settings) -> None:
    with pytest.raises(ValueError, match="write_rate_limit"):
        make_settings(settings.database_url, write_rate_limit="lots")


@pytest.fixture
async def shared_store() -> AsyncIterator[str]:
    async with emptied_redis(13) as url:
        yield url


async def test_two_instances_share_one_budget_through_redis(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    make_account: AccountFactory,
    shared_store: str,
) -> None:
    limits = {"write_rate_limit": "3/minute", "rate_limit_storage_uri": shared_store}
    first = _app(settings, sessionmaker, **limits)
    second = _app(settings, sessionmaker, **limits)
    author = await make_account()
    try:
        assert (await _post(first, author.headers)).status_code == 200
        assert (await _post(second, author.headers)).headers["ratelimit-remaining"] == "1"
        assert (await _post(first, author.headers)).status_code == 200
        _assert_refused(await _post(second, author.headers), "WRITE_RATE_LIMIT")
        _assert_refused(await _post(first, author.headers), "WRITE_RATE_LIMIT")
    finally:  # no lifespan runs under ASGITransport: close the apps' Redis clients here
        for app in (first, second):
            await RATE_LIMITER.of(app).close()
    async with redis.Redis.from_url(shared_store) as client:
        assert await client.keys("*")  # the counters live in Redis, not in either process
