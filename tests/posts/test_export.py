"""GET /posts/export: NDJSON and CSV, the GET /posts filters, oldest first, chunk boundaries."""

import csv
import io
import json
from typing import Any

from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.model_base import utcnow
from service.main import create_app
from service.posts.export import CHUNK, CSV_COLUMNS
from service.posts.models import Post
from service.settings import Settings
from tests.support.accounts import AccountFactory
from tests.support.api import POSTS, create_post
from tests.support.problems import assert_problem
from tests.support.sessions import bind_sessions
from tests.support.settings import make_settings

EXPORT = f"{POSTS}/export"


def _ndjson(text: str) -> list[dict[str, Any]]:
    assert text.endswith("\n") or text == ""
    return [json.loads(line) for line in text.splitlines()]


async def test_ndjson_is_every_visible_post_oldest_first_as_get_returns_it(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    author, other = await make_account(), await make_account()
    first = await create_post(client, author, title="first", tags=["b", "a"], metadata={"k": "v"})
    await create_post(client, author, status="draft")
    gone = await create_post(client, author)
    assert (await client.delete(f"{POSTS}/{gone['id']}", headers=author.headers)).is_success
    second = await create_post(client, other, title="second")

    response = await client.get(EXPORT, headers=author.headers, params={"author_id": author.id})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    assert _ndjson(response.text) == [(await client.get(f"{POSTS}/{first['id']}")).json()]

    everyone = _ndjson((await client.get(EXPORT, headers=author.headers)).text)
    ids = [p["id"] for p in everyone]
    assert ids.index(first["id"]) < ids.index(second["id"])
    assert gone["id"] not in ids
    assert first["tags"] == ["a", "b"] == everyone[ids.index(first["id"])]["tags"]


async def test_filters_are_those_of_the_listing(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    author = await make_account()
    tagged = await create_post(client, author, tags=["export-tag"])
    await create_post(client, author, tags=["other"])
    rows = _ndjson(
        (await client.get(EXPORT, headers=author.headers, params={"tag": "export-tag"})).text
    )
    assert [p["id"] for p in rows] == [tagged["id"]]
    bad = await client.get(EXPORT, headers=author.headers, params={"meta": "no-colon"})
    assert_problem(bad, 400)


async def test_drafts_are_only_ever_the_callers_own(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    author, intruder = await make_account(), await make_account()
    draft = await create_post(client, author, status="draft")
    mine = await client.get(EXPORT, headers=author.headers, params={"status": "draft"})
    assert [p["id"] for p in _ndjson(mine.text)] == [draft["id"]]
    theirs = await client.get(
        EXPORT, headers=intruder.headers, params={"status": "draft", "author_id": author.id}
    )
    assert _ndjson(theirs.text) == []


async def test_csv_has_a_header_and_one_row_per_post(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    author = await make_account()
    post = await create_post(
        client, author, title='Quotes "and", commas', body="line one\nline two", tags=["x", "y"]
    )
    response = await client.get(
        EXPORT, headers=author.headers, params={"format": "csv", "author_id": author.id}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [(r["id"], r["title"], r["body"], r["tags"]) for r in rows] == [
        (str(post["id"]), post["title"], post["body"], "x y")
    ]


async def test_export_needs_a_token(client: AsyncClient) -> None:
    assert_problem(await client.get(EXPORT), 401)
    assert_problem(await client.get(EXPORT, params={"format": "xml"}), 401, 422)


async def test_chunk_boundaries_neither_skip_nor_repeat_rows_with_equal_timestamps(
    client: AsyncClient, make_account: AccountFactory, connection: AsyncConnection
) -> None:
    """More rows than one chunk, all with the same created_at: the keyset tie-breaker holds."""
    author = await make_account()
    now, count = utcnow(), CHUNK * 2 + 7
    rows = [
        {
            "author_id": author.id,
            "title": f"t{i}",
            "slug": f"export-chunk-{author.id}-{i}",
            "body": "b",
            "status": "published",
            "metadata": {},
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]
    await connection.execute(insert(Post.__table__), rows)  # type: ignore[attr-defined]
    response = await client.get(EXPORT, headers=author.headers, params={"author_id": author.id})
    ids = [p["id"] for p in _ndjson(response.text)]
    assert len(ids) == count
    assert ids == sorted(ids)


async def test_export_is_rate_limited(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    make_account: AccountFactory,
) -> None:
    app: FastAPI = create_app(make_settings(settings.database_url, export_rate_limit="2/minute"))
    bind_sessions(app, sessionmaker)
    user = await make_account()
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app), base_url="http://test") as client,
    ):
        for remaining in ("1", "0"):
            allowed = await client.get(EXPORT, headers=user.headers)
            assert allowed.status_code == 200
            assert allowed.headers["ratelimit-remaining"] == remaining
        refused = await client.get(EXPORT, headers=user.headers)
    assert_problem(refused, 429)
    assert int(refused.headers["retry-after"]) >= 1
    assert "EXPORT_RATE_LIMIT" in refused.json()["detail"]
