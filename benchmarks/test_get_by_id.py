"""GET a post by id, in process: raw asyncpg vs the ORM path vs the whole ASGI app.

Shows where the CPU of the hot path goes without HTTP or Locust in the way:
raw asyncpg (one prepared statement) -> ORM in a transaction (what a request does today:
BEGIN, SELECT, COMMIT) -> ORM in AUTOCOMMIT (no BEGIN/COMMIT) -> the full FastAPI app and the
Starlette reference app driven through ASGI (routing, dependencies, serialization).
"""

import json
import os
import random
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from pytest_benchmark.fixture import BenchmarkFixture
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from benchmarks.conftest import Runner
from loadtests.reference.app import GET_POST
from loadtests.reference.app import app as reference_app
from service.database.engines import create_engine, make_sessionmaker
from service.main import create_app
from service.posts import repository
from service.posts.models import Post
from service.settings import Settings
from service.users.models import User

SECRET = "benchmark-secret-0123456789-0123456789-0123"


@pytest.fixture(scope="module")
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url, environment="production", jwt_secret=SECRET, _env_file=None
    )


@pytest.fixture(scope="module")
def post_ids(runner: Runner, database_url: str) -> list[int]:
    async def fetch() -> list[int]:
        conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
        try:
            rows = await conn.fetch(
                "SELECT id FROM posts WHERE status = 'published' AND deleted_at IS NULL LIMIT 5000"
            )
        finally:
            await conn.close()
        return [r["id"] for r in rows]

    return runner.run(fetch())


@pytest.fixture(scope="module")
def engine(runner: Runner, settings: Settings) -> Iterator[AsyncEngine]:
    engine = create_engine(settings.database_url, settings)
    yield engine
    runner.run(engine.dispose())


def _pick(ids: list[int]) -> int:
    return random.choice(ids)


def test_raw_asyncpg(
    benchmark: BenchmarkFixture, runner: Runner, database_url: str, post_ids: list[int]
) -> None:
    conn = runner.run(asyncpg.connect(database_url.replace("+asyncpg", "")))
    try:
        result = benchmark(runner.timed(lambda: conn.fetchrow(GET_POST, _pick(post_ids))))
        assert result is not None
    finally:
        runner.run(conn.close())


def test_orm_in_transaction(
    benchmark: BenchmarkFixture, runner: Runner, engine: AsyncEngine, post_ids: list[int]
) -> None:
    sessionmaker = make_sessionmaker(engine)

    async def get() -> Any:
        async with sessionmaker() as session, session.begin():
            return await repository.get(session, _pick(post_ids))

    assert benchmark(runner.timed(get)) is not None


def test_orm_autocommit(
    benchmark: BenchmarkFixture, runner: Runner, engine: AsyncEngine, post_ids: list[int]
) -> None:
    sessionmaker = make_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"))

    async def get() -> Any:
        async with sessionmaker() as session:
            return await repository.get(session, _pick(post_ids))

    assert benchmark(runner.timed(get)) is not None


class _ASGIDriver:
    """Calls an ASGI app directly: no sockets, no HTTP parsing, just the app's own work."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def get(self, path: str) -> tuple[int, bytes]:
        status = 0
        body = bytearray()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1")],
            "client": ("127.0.0.1", 1234),
            "server": ("127.0.0.1", 80),
            "state": {},
        }

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, bytes(body)


@pytest.mark.parametrize("which", ["service", "reference"])
def test_asgi_app(
    benchmark: BenchmarkFixture,
    runner: Runner,
    settings: Settings,
    database_url: str,
    post_ids: list[int],
    which: str,
) -> None:
    os.environ["DATABASE_URL"] = database_url
    app: Any = create_app(settings) if which == "service" else reference_app
    context = app.router.lifespan_context(app)
    runner.run(context.__aenter__())
    try:
        driver = _ASGIDriver(app)
        status, body = runner.run(driver.get(f"/api/v1/posts/{post_ids[0]}"))
        assert status == 200, body
        assert set(json.loads(body)) >= {"id", "title", "author", "metadata"}
        benchmark(runner.timed(lambda: driver.get(f"/api/v1/posts/{_pick(post_ids)}")))
    finally:
        runner.run(context.__aexit__(None, None, None))


def test_core_columns_autocommit(
    benchmark: BenchmarkFixture, runner: Runner, engine: AsyncEngine, post_ids: list[int]
) -> None:
    """The proposed hot-path design: a Core select of the needed columns, no ORM entities."""
    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
    statement = (
        select(
            *(col(c) for c in (Post.id, Post.title, Post.body, Post.status, Post.meta)),
            *(col(c) for c in (Post.like_count, Post.version, Post.created_at, Post.updated_at)),
            col(User.id).label("author_id"),
            col(User.username),
            col(User.display_name),
            col(User.created_at).label("author_created_at"),
        )
        .join(User, col(User.id) == col(Post.author_id))
        .where(col(Post.id) == bindparam("post_id"), col(Post.deleted_at).is_(None))
    )

    async def get() -> Any:
        async with autocommit.connect() as conn:
            result = await conn.execute(statement, {"post_id": _pick(post_ids)})
            return result.mappings().first()

    assert benchmark(runner.timed(get)) is not None
