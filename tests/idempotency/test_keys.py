"""`Idempotency-Key`: byte-identical replays, key reuse refused, one row under concurrency."""

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.database.engines import create_engine
from service.idempotency.dependency import fingerprint, purge_expired
from service.idempotency.models import IdempotencyKey
from service.kit.model_base import utcnow
from service.main import create_app
from tests.support import databases
from tests.support.accounts import AccountFactory
from tests.support.api import register
from tests.support.migrations import run_alembic
from tests.support.problems import assert_problem
from tests.support.settings import make_settings

POSTS = "/api/v1/posts"
POST = {"title": "once", "body": "only once", "status": "published"}


async def _count(connection: AsyncConnection, table: str, user_id: int) -> int:
    column = "author_id" if table == "posts" else "user_id"
    result = await connection.scalar(
        text(f"SELECT count(*) FROM {table} WHERE {column} = :id"), {"id": user_id}
    )
    return int(result or 0)


async def test_a_retry_replays_the_first_response_byte_for_byte(
    client: AsyncClient, make_account: AccountFactory, connection: AsyncConnection
) -> None:
    account = await make_account()
    headers = {**account.headers, "Idempotency-Key": "k-1"}
    first = await client.post(POSTS, json=POST, headers=headers)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    again = await client.post(POSTS, json=POST, headers=headers)
    assert again.status_code == 201
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    for name in ("content-type", "location", "etag", "x-consistency-token"):
        assert again.headers.get(name) == first.headers.get(name), name
    assert await _count(connection, "posts", account.id) == 1
    assert await _count(connection, "idempotency_keys", account.id) == 1


async def test_same_key_with_another_body_is_422(
    client: AsyncClient, make_account: AccountFactory, connection: AsyncConnection
) -> None:
    account = await make_account()
    headers = {**account.headers, "Idempotency-Key": "k-2"}
    assert (await client.post(POSTS, json=POST, headers=headers)).status_code == 201
    other = await client.post(POSTS, json={**POST, "title": "other"}, headers=headers)
    assert_problem(other, 422)
    assert await _count(connection, "posts", account.id) == 1


async def test_keys_are_per_user_and_optional(
    client: AsyncClient, make_account: AccountFactory, connection: AsyncConnection
) -> None:
    alice, bob = await make_account(), await make_account()
    shared = {"Idempotency-Key": "same-key"}
    a = await client.post(POSTS, json=POST, headers={**alice.headers, **shared})
    b = await client.post(POSTS, json=POST, headers={**bob.headers, **shared})
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    assert "idempotent-replayed" not in b.headers
    # Without the header every POST creates.
    for _ in range(2):
        assert (await client.post(POSTS, json=POST, headers=alice.headers)).status_code == 201
    assert await _count(connection, "posts", alice.id) == 3


async def test_a_failed_request_does_not_burn_the_key(
    client: AsyncClient, make_account: AccountFactory, connection: AsyncConnection
) -> None:
    account = await make_account()
    headers = {**account.headers, "Idempotency-Key": "k-3"}
    assert_problem(await client.post(POSTS, json={"title": ""}, headers=headers), 422)
    assert (await client.post(POSTS, json=POST, headers=headers)).status_code == 201
    assert_problem(await client.post(POSTS, json=POST, headers={"Idempotency-Key": "k-3"}), 401)


async def test_key_length_is_bounded(client: AsyncClient, make_account: AccountFactory) -> None:
    account = await make_account()
    headers = {**account.headers, "Idempotency-Key": "k" * 256}
    assert_problem(await client.post(POSTS, json=POST, headers=headers), 422)


async def test_expired_keys_are_forgotten_and_purged(
    client: AsyncClient,
    make_account: AccountFactory,
    connection: AsyncConnection,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    account = await make_account()
    headers = {**account.headers, "Idempotency-Key": "k-4"}
    first = await client.post(POSTS, json=POST, headers=headers)
    old = utcnow() - timedelta(days=2)
    stamp = old.replace(tzinfo=None) if connection.dialect.name == "sqlite" else old
    await connection.execute(
        text("UPDATE idempotency_keys SET created_at = :t WHERE user_id = :id"),
        {"t": stamp, "id": account.id},
    )
    second = await client.post(POSTS, json=POST, headers=headers)
    assert second.status_code == 201
    assert second.json()["id"] != first.json()["id"]
    assert "idempotent-replayed" not in second.headers
    await connection.execute(
        text("UPDATE idempotency_keys SET created_at = :t WHERE user_id = :id"),
        {"t": stamp, "id": account.id},
    )
    async with sessionmaker() as session, session.begin():
        assert await purge_expired(session, ttl_seconds=3600) == 1
    assert await _count(connection, "idempotency_keys", account.id) == 0


@pytest.mark.postgres_only
async def test_ten_concurrent_identical_requests_create_one_row(backend: str) -> None:
    """Real committed transactions on ten pooled connections of a throw-away database.
    (PostgreSQL only: SQLite has one writer, the race is a PostgreSQL concern.)"""
    async with databases.postgres_database("idempotency") as url:
        settings = make_settings(url)
        engine = create_engine(url, settings)
        async with engine.begin() as connection:
            await run_alembic(connection, "upgrade", "head")
        app = create_app(settings)
        async with (
            app.router.lifespan_context(app),
            AsyncClient(transport=ASGITransport(app), base_url="http://test") as client,
        ):
            racer = await register(client, "racer")
            headers = {**racer.headers, "Idempotency-Key": uuid.uuid4().hex}
            responses = await asyncio.gather(
                *(client.post(POSTS, json=POST, headers=headers) for _ in range(10))
            )
            statuses = sorted(r.status_code for r in responses)
            created = [r for r in responses if r.status_code == 201]
            originals = [r for r in created if "idempotent-replayed" not in r.headers]
            assert len(originals) == 1, statuses
            assert all(r.content == originals[0].content for r in created)
            assert all(r.status_code in (201, 409) for r in responses), statuses
            for conflict in (r for r in responses if r.status_code == 409):
                assert_problem(conflict, 409)
                assert conflict.headers["retry-after"] == "1"
            # Once the dust settles every retry is a replay.
            late = await client.post(POSTS, json=POST, headers=headers)
            assert late.status_code == 201
            assert late.content == originals[0].content
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT count(*) FROM posts")) == 1
            assert await connection.scalar(text("SELECT count(*) FROM idempotency_keys")) == 1
        await engine.dispose()


async def test_a_key_still_in_progress_is_409(
    client: AsyncClient,
    make_account: AccountFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    account = await make_account()
    body = b'{"title":"t","body":"b"}'
    async with sessionmaker() as session, session.begin():
        session.add(
            IdempotencyKey(
                user_id=account.id, key="busy", fingerprint=fingerprint("POST", POSTS, body)
            )
        )
    headers = {**account.headers, "Idempotency-Key": "busy", "Content-Type": "application/json"}
    response = await client.post(POSTS, content=body, headers=headers)
    assert_problem(response, 409)
    assert response.headers["retry-after"] == "1"


async def _rows(connection: AsyncConnection) -> tuple[Any, Any]:
    posts = await connection.scalar(text("SELECT count(*) FROM posts"))
    comments = await connection.scalar(text("SELECT count(*) FROM comments"))
    return posts, comments


@pytest.mark.parametrize("route", ["posts", "bulk", "comments"])
async def test_every_create_route_that_adopted_it_replays(
    client: AsyncClient, make_account: AccountFactory, connection: AsyncConnection, route: str
) -> None:
    account = await make_account()
    post = await client.post(POSTS, json=POST, headers=account.headers)
    url, body = {
        "posts": (POSTS, POST),
        "bulk": (f"{POSTS}/bulk", {"items": [POST, {"title": ""}]}),
        "comments": (f"{POSTS}/{post.json()['id']}/comments", {"body": "once"}),
    }[route]
    headers = {**account.headers, "Idempotency-Key": f"adopted-{route}"}
    before = await _rows(connection)
    first = await client.post(url, json=body, headers=headers)
    assert first.status_code == 201, first.text
    created = await _rows(connection)
    assert created != before
    again = await client.post(url, json=body, headers=headers)
    assert again.status_code == 201
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert await _rows(connection) == created


async def test_a_key_in_progress_past_its_lease_is_taken_over(
    client: AsyncClient,
    make_account: AccountFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    connection: AsyncConnection,
) -> None:
    """A row nothing will ever answer (an older version's, or a streamed response's) stops
    blocking its key after IDEMPOTENCY_LEASE_SECONDS: the request runs again."""
    account = await make_account()
    body = b'{"title":"t","body":"b"}'
    stale = utcnow() - timedelta(minutes=5)
    async with sessionmaker() as session, session.begin():
        session.add(
            IdempotencyKey(
                user_id=account.id,
                key="stale",
                fingerprint=fingerprint("POST", POSTS, body),
                created_at=stale,
            )
        )
    headers = {**account.headers, "Idempotency-Key": "stale", "Content-Type": "application/json"}
    response = await client.post(POSTS, content=body, headers=headers)
    assert response.status_code == 201, response.text
    assert "idempotent-replayed" not in response.headers
    again = await client.post(POSTS, content=body, headers=headers)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == response.content
    assert await _count(connection, "posts", account.id) == 1


async def test_the_answer_is_recorded_in_the_request_transaction(
    client: AsyncClient, make_account: AccountFactory, connection: AsyncConnection
) -> None:
    """The key row carries its answer as soon as the write is visible: no second step to lose."""
    account = await make_account()
    first = await client.post(
        POSTS, json=POST, headers={**account.headers, "Idempotency-Key": "atomic"}
    )
    row = (
        await connection.execute(
            text("SELECT status_code, response_body FROM idempotency_keys WHERE user_id = :id"),
            {"id": account.id},
        )
    ).one()
    assert (row[0], bytes(row[1])) == (201, first.content)
