"""Login throttling per client address and per username: 429 with Retry-After."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.main import create_app
from service.settings import Settings
from tests.support.accounts import PASSWORD, AccountFactory
from tests.support.problems import assert_problem
from tests.support.sessions import bind_sessions
from tests.support.settings import make_settings

TOKEN = "/api/v1/auth/token"


# The throttle never touches the database: one backend is enough (argon2 logins are slow).
pytestmark = pytest.mark.sqlite_only


def _throttled_app(settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> FastAPI:
    app = create_app(make_settings(settings.database_url, login_rate_limit="3/minute"))
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


async def test_one_address_is_throttled_across_usernames(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], make_account: AccountFactory
) -> None:
    app = _throttled_app(settings, sessionmaker)
    account = await make_account()
    assert (await _login(app, "10.0.0.1", account.user.username)).status_code == 200
    assert (await _login(app, "10.0.0.1", "nobody_1", "wrong")).status_code == 401
    assert (await _login(app, "10.0.0.1", "nobody_2", "wrong")).status_code == 401
    refused = await _login(app, "10.0.0.1", account.user.username)
    body = assert_problem(refused, 429)
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "try again later" in body["detail"]
    # Another address is not affected.
    assert (await _login(app, "10.0.0.2", "nobody_3", "wrong")).status_code == 401


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
    assert_problem(refused, 429)
    assert int(refused.headers["retry-after"]) >= 1
    # Other users from the same fresh address still get in.
    other = await make_account()
    assert (await _login(app, "10.1.0.5", other.user.username)).status_code == 200


async def test_each_app_has_its_own_counters(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    first = _throttled_app(settings, sessionmaker)
    for _ in range(3):
        await _login(first, "10.2.0.1", "ghost", "wrong")
    assert_problem(await _login(first, "10.2.0.1", "ghost", "wrong"), 429)
    second = _throttled_app(settings, sessionmaker)
    assert (await _login(second, "10.2.0.1", "ghost", "wrong")).status_code == 401


async def test_other_routes_are_not_throttled(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    app = _throttled_app(settings, sessionmaker)
    async with _client(app, "10.3.0.1") as client:
        for _ in range(10):
            assert (await client.get("/api/v1/users")).status_code == 200
