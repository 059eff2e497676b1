"""Every error is problem+json; 500 and 503 never show internals; 503 carries Retry-After."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from service.main import create_app
from service.settings import Settings
from tests.support.accounts import AccountFactory
from tests.support.problems import assert_problem
from tests.support.settings import make_settings


@asynccontextmanager
async def _serve(settings: Settings, app: FastAPI | None = None) -> AsyncIterator[AsyncClient]:
    """The app with its real sessionmaker (no test override), errors rendered, not raised."""
    app = app or create_app(settings)
    transport = ASGITransport(app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        yield client


async def test_unknown_route_and_method_are_problems(client: AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/nothing-here"), 404)
    assert_problem(await client.put("/api/v1/users"), 405)


async def test_body_over_the_limit_is_413(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    author = await make_account()
    huge = {"title": "t", "body": "x" * (1024 * 1024 + 1)}
    response = await client.post("/api/v1/posts", json=huge, headers=author.headers)
    # problem+json rendering of the 413 is the security issue's body-limit middleware.
    assert response.status_code == 413


async def test_unhandled_error_is_500_without_internals(settings: Settings) -> None:
    app = create_app(settings)

    async def boom() -> None:
        raise RuntimeError("SECRET-INTERNAL select * from users")

    app.add_api_route("/boom", boom)
    async with _serve(settings, app) as client:
        response = await client.get("/boom")
    body = assert_problem(response, 500)
    assert "SECRET" not in response.text
    assert "select" not in response.text
    assert body["detail"] == "An unexpected error occurred."


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere",
        "sqlite+aiosqlite:////nonexistent-dir/inkwell.db",
    ],
)
async def test_unreachable_database_is_503_with_retry_after(url: str) -> None:
    settings = make_settings(url, db_connect_timeout=1.0)
    async with _serve(settings) as client:
        response = await client.get("/api/v1/users/1")
        body = assert_problem(response, 503)
        assert response.headers["retry-after"] == str(settings.retry_after_seconds)
        assert "127.0.0.1" not in body["detail"]
        ready = await client.get("/health/ready")
        assert ready.status_code == 503


@pytest.mark.postgres_only
async def test_exhausted_pool_is_503_within_the_pool_timeout(
    backend: str, database_url: str
) -> None:
    settings = make_settings(database_url, db_pool_size=1, db_max_overflow=0, db_pool_timeout=0.2)
    app = create_app(settings)
    async with _serve(settings, app) as client:
        async with app.state.db.primary.connect():  # the only connection is busy
            response = await client.get("/api/v1/users/1")
        assert_problem(response, 503)
        assert "retry-after" in response.headers
        assert (await client.get("/api/v1/users/1")).status_code == 404
