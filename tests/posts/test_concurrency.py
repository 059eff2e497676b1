"""Races with real committed transactions on many connections, on both backends.

Each test gets a throw-away database (PostgreSQL: `postgres_database`; SQLite: a file) migrated
to head and the app with its real sessionmaker (no override, so every request commits for
real), fires concurrent requests with asyncio.gather over ASGITransport, then checks the outcome
with SQL. On SQLite the writers queue on the database lock (BEGIN IMMEDIATE + busy_timeout).
"""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.database.engines import create_engine
from service.main import create_app
from service.settings import Settings
from service.users.security import create_access_token
from tests.support import databases
from tests.support.api import POSTS, create_post_as
from tests.support.migrations import run_alembic
from tests.support.settings import make_settings


@dataclass
class Live:
    app: FastAPI
    client: AsyncClient
    engine: AsyncEngine
    settings: Settings
    created: int = 0

    async def users(self, n: int) -> list[dict[str, str]]:
        """`n` users made with SQL; their bearer headers."""
        async with self.engine.begin() as conn:
            ids = []
            for i in range(n):
                row = await conn.execute(
                    text(
                        "INSERT INTO users (username, email, password_hash, token_version, "
                        "created_at, updated_at) VALUES (:name, :email, 'x', 0, "
                        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id"
                    ),
                    {"name": f"u{self.created + i}", "email": f"u{self.created + i}@example.com"},
                )
                ids.append(row.scalar_one())
            self.created += n
        return [
            {
                "Authorization": "Bearer "
                + create_access_token(self.settings, user_id=i, token_version=0)
            }
            for i in ids
        ]

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.engine.connect() as conn:
            return (await conn.execute(text(sql), params)).scalar_one()


async def _serve(url: str) -> AsyncIterator[Live]:
    settings = make_settings(url, db_pool_size=30, db_max_overflow=30, db_pool_timeout=20.0)
    engine = create_engine(url, settings, role="tests")
    try:
        async with engine.begin() as conn:
            await run_alembic(conn, "upgrade", "head")
        app = create_app(settings)
        async with (
            app.router.lifespan_context(app),
            AsyncClient(transport=ASGITransport(app), base_url="http://test") as client,
        ):
            yield Live(app, client, engine, settings)
    finally:
        await engine.dispose()


@pytest.fixture
async def live(backend: str, tmp_path: Path) -> AsyncIterator[Live]:
    if backend == "sqlite":
        async for live in _serve(f"sqlite+aiosqlite:///{tmp_path / 'race.db'}"):
            yield live
        return
    async with databases.postgres_database("race") as url:
        async for live in _serve(url):
            yield live


async def test_fifty_concurrent_likes_are_counted_exactly(live: Live) -> None:
    author, *fans = await live.users(51)
    post = await create_post_as(live.client, author)
    url = f"{POSTS}/{post['id']}/like"
    responses = await asyncio.gather(*(live.client.put(url, headers=h) for h in fans))
    assert [r.status_code for r in responses] == [200] * 50
    # Repeats change nothing (idempotent), concurrently too.
    again = await asyncio.gather(*(live.client.put(url, headers=h) for h in fans[:10]))
    assert {r.status_code for r in again} == {200}
    pid = post["id"]
    assert await live.scalar("SELECT like_count FROM posts WHERE id = :i", i=pid) == 50
    assert await live.scalar("SELECT count(*) FROM post_likes WHERE post_id = :i", i=pid) == 50
    # A like never moves the optimistic-locking version.
    assert await live.scalar("SELECT version FROM posts WHERE id = :i", i=pid) == post["version"]

    gone = await asyncio.gather(*(live.client.delete(url, headers=h) for h in fans[:30]))
    assert {r.status_code for r in gone} == {200}
    assert await live.scalar("SELECT like_count FROM posts WHERE id = :i", i=pid) == 20


async def test_concurrent_first_uses_of_a_tag_make_one_row(live: Live) -> None:
    headers = await live.users(4)
    for round_ in range(5):
        name = f"fresh{round_}"
        responses = await asyncio.gather(
            *(
                live.client.post(
                    POSTS, json={"title": "t", "body": "b", "tags": [name, "zz", "aa"]}, headers=h
                )
                for h in headers
            )
        )
        assert [r.status_code for r in responses] == [201] * 4, [r.text for r in responses]
        assert await live.scalar("SELECT count(*) FROM tags WHERE name = :n", n=name) == 1
    assert await live.scalar("SELECT count(*) FROM tags") == 7
    assert await live.scalar("SELECT count(*) FROM post_tags") == 4 * 5 * 3


async def test_concurrent_patches_with_the_same_if_match_one_wins(live: Live) -> None:
    (author,) = await live.users(1)
    for _ in range(3):
        post = await create_post_as(live.client, author)
        url = f"{POSTS}/{post['id']}"
        headers = {**author, "If-Match": (await live.client.get(url)).headers["etag"]}
        first, second = await asyncio.gather(
            live.client.patch(url, json={"title": "A"}, headers=headers),
            live.client.patch(url, json={"title": "B"}, headers=headers),
        )
        assert sorted([first.status_code, second.status_code]) == [200, 412], (
            first.text,
            second.text,
        )
        winner = first if first.status_code == 200 else second
        title = await live.scalar("SELECT title FROM posts WHERE id = :i", i=post["id"])
        assert title == winner.json()["title"]
        assert await live.scalar("SELECT version FROM posts WHERE id = :i", i=post["id"]) == 2


async def test_concurrent_posts_with_one_title_get_distinct_slugs(live: Live) -> None:
    headers = await live.users(6)
    responses = await asyncio.gather(
        *(
            live.client.post(POSTS, json={"title": "Same Title", "body": "b"}, headers=h)
            for h in headers
        )
    )
    assert [r.status_code for r in responses] == [201] * 6, [r.text for r in responses]
    slugs = {r.json()["slug"] for r in responses}
    assert len(slugs) == 6
    assert "same-title" in slugs
