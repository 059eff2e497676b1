"""Connection set-up per backend, the commit-before-response guarantee, read sessions."""

import uuid

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.database.engines import AsyncReadSession
from service.database.session import DATABASE
from service.main import create_app
from service.replication.tokens import HEADER
from service.settings import Settings
from service.users.models import User
from tests.support.accounts import PASSWORD, AccountFactory


@pytest.mark.sqlite_only
async def test_sqlite_connections_get_wal_foreign_keys_and_busy_timeout(
    backend: str, engine: AsyncEngine, settings: Settings
) -> None:
    async with engine.connect() as connection:
        assert await connection.scalar(text("PRAGMA journal_mode")) == "wal"
        assert await connection.scalar(text("PRAGMA foreign_keys")) == 1
        busy = await connection.scalar(text("PRAGMA busy_timeout"))
        assert busy == settings.db_sqlite_busy_timeout_ms


@pytest.mark.postgres_only
async def test_postgres_connections_get_server_settings(
    backend: str, engine: AsyncEngine, settings: Settings
) -> None:
    async with engine.connect() as connection:
        assert await connection.scalar(text("SHOW application_name")) == "inkwell-tests"
        assert await connection.scalar(text("SHOW jit")) == "off"
        timeout = await connection.scalar(text("SHOW statement_timeout"))
        assert timeout == f"{settings.db_statement_timeout_ms // 1000}s"
    assert engine.pool.size() == settings.db_pool_size  # type: ignore[attr-defined]


async def test_a_2xx_write_is_committed_before_the_response(
    settings: Settings, engine: AsyncEngine
) -> None:
    """Real sessionmaker, no test transaction: the row is visible to another connection as
    soon as the response arrives."""
    app = create_app(settings)
    name = f"durable_{uuid.uuid4().hex[:8]}"
    try:
        async with (
            app.router.lifespan_context(app),
            AsyncClient(transport=ASGITransport(app), base_url="http://test") as client,
        ):
            payload = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
            response = await client.post("/api/v1/users", json=payload)
            assert response.status_code == 201
            # the real session router, without replicas: no token (docs/scaling.md)
            assert HEADER not in response.headers
            assert DATABASE.of(app).read_sessionmaker.class_ is AsyncReadSession
            read = await client.get(f"/api/v1/users/{response.json()['id']}")
            assert read.status_code == 200
            assert HEADER not in read.headers
            async with engine.connect() as other:
                found = await other.scalar(
                    text("SELECT count(*) FROM users WHERE username = :u"), {"u": name}
                )
            assert found == 1
            failed = await client.post("/api/v1/users", json=payload)
            assert failed.status_code == 409
    finally:
        async with engine.begin() as connection:
            await connection.execute(text("DELETE FROM users WHERE username = :u"), {"u": name})


async def test_a_read_session_is_an_async_session_that_refuses_writes(
    read_sessionmaker: async_sessionmaker[AsyncReadSession], make_account: AccountFactory
) -> None:
    account = await make_account()
    async with read_sessionmaker() as session:
        assert isinstance(session, AsyncSession)  # service functions typed AsyncSession take it
        assert (await session.exec(select(User).where(User.id == account.id))).one()
        session.add(User(username="nope", email="nope@example.com", password_hash="x"))
        with pytest.raises(RuntimeError, match="a ReadSessionDep session cannot write"):
            await session.flush()
    async with read_sessionmaker() as session:
        statement = update(User).where(col(User.id) == account.id).values(username="renamed")
        with pytest.raises(RuntimeError, match="a ReadSessionDep session cannot write"):
            await session.exec(statement)
