"""API4: bounded page sizes, bodies, JSON documents and statement time."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import text

from service.database.engines import create_engine
from service.posts.schemas import METADATA_MAX_BYTES, METADATA_MAX_DEPTH
from service.settings import Settings
from tests.support.accounts import AccountFactory
from tests.support.problems import assert_problem
from tests.support.settings import make_settings

API = "/api/v1"
MIB = 1024 * 1024


@pytest.mark.parametrize("path", ["/users", "/posts"])
async def test_page_size_is_bounded(client: AsyncClient, path: str) -> None:
    assert (await client.get(f"{API}{path}", params={"limit": 100})).status_code == 200
    for limit in (101, 0, -1, 10**20):
        body = assert_problem(await client.get(f"{API}{path}", params={"limit": limit}), 422)
        assert body["errors"][0]["loc"] == ["query", "limit"]


async def _chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        chunk = min(size, total - sent)
        sent += chunk
        yield b" " * chunk


async def test_body_over_the_limit_with_content_length_is_413(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    account = await make_account()
    headers = {**account.headers, "Content-Type": "application/json"}
    response = await client.post(f"{API}/posts", content=b" " * (MIB + 1), headers=headers)
    assert_problem(response, 413)
    # Also where the route never reads a body, and before authentication.
    assert_problem(await client.request("GET", f"{API}/posts", content=b" " * (MIB + 1)), 413)
    assert_problem(await client.post(f"{API}/posts", content=b" " * (MIB + 1)), 413)


async def test_streamed_body_without_content_length_is_413(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    account = await make_account()
    headers = {**account.headers, "Content-Type": "application/json"}
    response = await client.post(f"{API}/posts", content=_chunks(MIB + 1), headers=headers)
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_problem(response, 413)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert_problem(
        await client.post(f"{API}/auth/token", content=_chunks(2 * MIB), headers=form), 413
    )


async def test_body_at_the_limit_is_accepted(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    account = await make_account()
    document = b'{"title": "t", "body": "b"}'
    padded = document + b" " * (MIB - len(document))
    headers = {**account.headers, "Content-Type": "application/json"}
    assert (await client.post(f"{API}/posts", content=padded, headers=headers)).status_code == 201
    streamed = await client.post(f"{API}/posts", content=_chunks_of(padded), headers=headers)
    assert streamed.status_code == 201, streamed.text


async def _chunks_of(data: bytes, size: int = 100_000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _nested(depth: int) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for _ in range(depth - 1):
        document = {"k": document}
    return document


async def test_metadata_size_and_depth_are_bounded(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    account = await make_account()

    async def create(metadata: Any) -> Any:
        post = {"title": "t", "body": "b", "metadata": metadata}
        return await client.post(f"{API}/posts", json=post, headers=account.headers)

    assert (await create(_nested(METADATA_MAX_DEPTH))).status_code == 201
    assert_problem(await create(_nested(METADATA_MAX_DEPTH + 1)), 422)
    assert_problem(await create({"k": [[[[[[1]]]]]]}), 422)
    assert (await create({"k": "x" * (METADATA_MAX_BYTES - 100)})).status_code == 201
    assert_problem(await create({"k": "x" * METADATA_MAX_BYTES}), 422)
    created = await create({})
    patch = {"metadata": _nested(METADATA_MAX_DEPTH + 1)}
    response = await client.patch(
        f"{API}/posts/{created.json()['id']}", json=patch, headers=account.headers
    )
    assert_problem(response, 422)


async def test_string_fields_are_bounded(client: AsyncClient, make_account: AccountFactory) -> None:
    account = await make_account()
    long_title = {"title": "x" * 201, "body": "b"}
    assert_problem(await client.post(f"{API}/posts", json=long_title, headers=account.headers), 422)
    long_body = {"title": "t", "body": "x" * 100_001}
    assert_problem(await client.post(f"{API}/posts", json=long_body, headers=account.headers), 422)
    long_cursor = {"cursor": "x" * 1025}
    assert_problem(await client.get(f"{API}/posts", params=long_cursor), 422)
    login = {"username": "u", "password": "p" * 129}
    assert_problem(await client.post(f"{API}/auth/token", data=login), 422)


@pytest.mark.postgres_only
async def test_every_pooled_connection_has_a_statement_timeout(
    app: FastAPI, settings: Settings
) -> None:
    configured = make_settings(settings.database_url, db_statement_timeout_ms=1234)
    engine = create_engine(configured.database_url, configured, role="timeout-test")
    try:
        for _ in range(3):  # the same pooled connection is checked out again
            async with engine.connect() as connection:
                value = await connection.scalar(text("SHOW statement_timeout"))
                assert value == "1234ms"
        async with engine.connect() as connection:
            with pytest.raises(Exception, match="statement timeout"):
                await connection.execute(text("SELECT pg_sleep(2)"))
    finally:
        await engine.dispose()
    # The application's own engine carries the default (15 s).
    async with app.state.db.primary.connect() as connection:
        assert await connection.scalar(text("SHOW statement_timeout")) == "15s"


async def test_nul_in_the_query_string_is_400(client: AsyncClient) -> None:
    for query in ("cursor=%00", "cursor=a%00b", "x=%00"):
        assert_problem(await client.get(f"{API}/posts?{query}"), 400)


async def test_out_of_range_integers_are_422_not_500(client: AsyncClient) -> None:
    for params in ({"author_id": 2**63}, {"author_id": 10**30}, {"limit": 2**64}):
        assert_problem(await client.get(f"{API}/posts", params=params), 422)
    assert_problem(await client.get(f"{API}/posts/{2**63}"), 422)


async def test_bulk_is_at_most_1000_items(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    account = await make_account()
    item = {"title": "t", "body": "b"}
    too_many = {"items": [item] * 1001}
    response = await client.post(f"{API}/posts/bulk", json=too_many, headers=account.headers)
    assert_problem(response, 422)
    empty = await client.post(f"{API}/posts/bulk", json={"items": []}, headers=account.headers)
    assert_problem(empty, 422)
