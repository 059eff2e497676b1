"""Login throttling counts failures, per username and per client address: 429 with Retry-After.

In-process, at low limits; tests/security/test_login_throttle.py runs the defaults against the
real server."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.main import create_app
from service.ratelimit.limiter import RATE_LIMITER
from service.settings import Settings
from tests.support.accounts import PASSWORD, AccountFactory
from tests.support.problems import assert_problem
from tests.support.redis_store import emptied_redis
from tests.support.sessions import bind_sessions
from tests.support.settings import make_settings

TOKEN = "/api/v1/auth/token"
"""A database number of its own on the machine's Redis (`.ci/run` starts one)."""

# The throttle never touches the database: one backend is enough (argon2 logins are slow).
pytestmark = pytest.mark.sqlite_only


def _throttled_app(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], **limits: str
) -> FastAPI:
    limits = {"login_rate_limit": "3/minute", "login_address_rate_limit": "3/minute"} | limits
    app = create_app(make_settings(settings.database_url, **limits))
    bind_sessions(app, sessionmaker)
    return app


@asynccontextmanager
async def _client(app: FastAPI, address: str) -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app, client=(address, 40000))
    async with AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def _login(app: FastAPI, address: str, username: str, password: str = PASSWORD) -> Any:
    async with _client(app, address) as client:
        return await client.post(TOKEN, data={"username": username, "password": password})


async def test_successful_logins_spend_nothing(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], make_account: AccountFactory
) -> None:
    app = _throttled_app(settings, sessionmaker)
    account = await make_account()
    for _ in range(6):
        assert (await _login(app, "10.4.0.1", account.user.username)).status_code == 200


async def test_one_address_is_throttled_across_usernames(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], make_account: AccountFactory
) -> None:
    app = _throttled_app(settings, sessionmaker, login_rate_limit="10/minute")
    account = await make_account()
    assert (await _login(app, "10.0.0.1", account.user.username)).status_code == 200
    for name in ("nobody_1", "nobody_2", "nobody_3"):
        assert (await _login(app, "10.0.0.1", name, "wrong")).status_code == 401
    refused = await _login(app, "10.0.0.1", account.user.username)
    body = assert_problem(refused, 429)
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["ratelimit-limit"] == "3"
    assert refused.headers["ratelimit-remaining"] == "0"
    assert "failed logins from this address" in body["detail"]
    assert "LOGIN_ADDRESS_RATE_LIMIT=3/minute" in body["detail"]
    # Another address is not affected.
    assert (await _login(app, "10.0.0.2", "nobody_4", "wrong")).status_code == 401


async def test_one_username_is_throttled_across_addresses(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], make_account: AccountFactory
) -> None:
    app = _throttled_app(settings, sessionmaker)
    account = await make_account()
    name = account.user.username
    for address in ("10.1.0.1", "10.1.0.2", "10.1.0.3"):
        assert (await _login(app, address, name, "wrong")).status_code == 401
    # Even the right password from a fresh address: the account is under attack.
    refused = await _login(app, "10.1.0.4", name.upper())
    body = assert_problem(refused, 429)
    assert int(refused.headers["retry-after"]) >= 1
    assert "LOGIN_RATE_LIMIT=3/minute" in body["detail"]
    # Other users from the same fresh address still get in.
    other = await make_account()
    assert (await _login(app, "10.1.0.5", other.user.username)).status_code == 200


async def test_a_success_clears_its_usernames_failures(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], make_account: AccountFactory
) -> None:
    app = _throttled_app(settings, sessionmaker, login_address_rate_limit="100/minute")
    name = (await make_account()).user.username
    for _ in range(2):
        assert (await _login(app, "10.5.0.1", name, "wrong")).status_code == 401
    assert (await _login(app, "10.5.0.1", name)).status_code == 200
    for _ in range(3):
        assert (await _login(app, "10.5.0.1", name, "wrong")).status_code == 401
    assert_problem(await _login(app, "10.5.0.1", name, "wrong"), 429)


async def test_each_app_has_its_own_counters(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    first = _throttled_app(settings, sessionmaker)
    for _ in range(3):
        await _login(first, "10.2.0.1", "ghost", "wrong")
    assert_problem(await _login(first, "10.2.0.1", "ghost", "wrong"), 429)
    second = _throttled_app(settings, sessionmaker)
    assert (await _login(second, "10.2.0.1", "ghost", "wrong")).status_code == 401


@pytest.fixture
async def shared_store() -> AsyncIterator[str]:
    async with emptied_redis(12) as url:
        yield url


async def test_two_instances_share_failures_through_redis(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    make_account: AccountFactory,
    shared_store: str,
) -> None:
    limits = {"login_address_rate_limit": "100/minute", "rate_limit_storage_uri": shared_store}
    first = _throttled_app(settings, sessionmaker, **limits)
    second = _throttled_app(settings, sessionmaker, **limits)
    name = (await make_account()).user.username
    try:
        assert (await _login(first, "10.7.0.1", name, "wrong")).status_code == 401
        assert (await _login(second, "10.7.0.2", name, "wrong")).status_code == 401
        # A success on one instance clears the count for both.
        assert (await _login(second, "10.7.0.3", name)).status_code == 200
        for app in (first, second, first):
            assert (await _login(app, "10.7.0.4", name, "wrong")).status_code == 401
        assert_problem(await _login(second, "10.7.0.5", name), 429)
        assert_problem(await _login(first, "10.7.0.6", name), 429)
    finally:  # no lifespan runs under ASGITransport: close the apps' Redis clients here
        for app in (first, second):
            await RATE_LIMITER.of(app).close()


async def test_other_routes_are_not_throttled(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    app = _throttled_app(settings, sessionmaker)
    async with _client(app, "10.3.0.1") as client:
        for _ in range(10):
            assert (await client.get("/api/v1/users")).status_code == 200
