"""The performance pieces of the core: the FIFO session guard, idle-only pings, the seeder."""

import asyncio
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from loadtests.seed import SeedParams, seed
from service.database.engines import create_engine
from service.database.guard import SessionGuard
from service.kit.errors import ServiceUnavailable
from service.posts.queries import Shape, statement_for
from service.posts.schemas import PostFilter, PostSort
from service.settings import Settings
from tests.support import databases
from tests.support.migrations import run_alembic
from tests.support.settings import make_settings


async def test_guard_admits_waiters_in_arrival_order() -> None:
    guard = SessionGuard(limit=1, timeout=5, retry_after=2)
    order: list[int] = []

    async def use(n: int) -> None:
        async with guard.slot():
            order.append(n)
            await asyncio.sleep(0)

    async with guard.slot():
        tasks = [asyncio.create_task(use(n)) for n in range(5)]
        await asyncio.sleep(0.01)
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4]


async def test_guard_times_out_with_503_and_retry_after() -> None:
    guard = SessionGuard(limit=1, timeout=0.05, retry_after=3)
    async with guard.slot():
        with pytest.raises(ServiceUnavailable) as caught:
            async with guard.slot():
                pass  # pragma: no cover
    assert caught.value.headers == {"Retry-After": "3"}
    async with guard.slot():  # the slot was released, not leaked
        pass


def test_guard_defaults_to_the_pool_size() -> None:
    settings = Settings(db_pool_size=7, _env_file=None)
    assert SessionGuard.from_settings(settings).limit == 7
    assert SessionGuard.from_settings(Settings(db_session_limit=3, _env_file=None)).limit == 3


@pytest.mark.postgres_only
async def test_idle_connection_is_pinged_and_replaced_after_server_side_kill(
    backend: str, settings: Settings
) -> None:
    engine = create_engine(
        settings.database_url, make_settings(settings.database_url, db_pool_ping_idle_seconds=0.05)
    )
    try:
        async with engine.connect() as conn:
            pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        admin = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid) is True
        finally:
            await admin.close()
        await asyncio.sleep(0.1)  # idle longer than the threshold: the next checkout pings
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await engine.dispose()


@pytest.mark.postgres_only
async def test_seed_is_deterministic_consistent_and_skipped_when_present(backend: str) -> None:
    async with databases.postgres_database("seed") as url:
        engine = create_engine(url, make_settings(url))
        async with engine.begin() as connection:
            await run_alembic(connection, "upgrade", "head")
        await engine.dispose()
        params = SeedParams(users=40, posts=300, comments=100, likes=500, follows=50, seed=7)
        assert await seed(url, params) is True
        assert await seed(url, params) is False  # same parameters, same schema: skipped
        conn = await asyncpg.connect(url.replace("+asyncpg", ""))
        try:
            assert await conn.fetchval("SELECT count(*) FROM users") == 40
            assert await conn.fetchval("SELECT count(*) FROM posts") == 300
            first = await conn.fetch("SELECT id, title, like_count FROM posts ORDER BY id")
            likes = await conn.fetchval("SELECT sum(like_count) FROM posts")
            assert likes == 500
            next_id = await conn.fetchval("SELECT nextval(pg_get_serial_sequence('posts', 'id'))")
            assert next_id == 301  # new rows do not collide with seeded ids
        finally:
            await conn.close()
        assert await seed(url, params, force=True) is True
        conn = await asyncpg.connect(url.replace("+asyncpg", ""))
        try:
            again = await conn.fetch("SELECT id, title, like_count FROM posts ORDER BY id")
        finally:
            await conn.close()
        assert again == first


def _plans(rows: list[asyncpg.Record], needle: str) -> tuple[int, int]:
    (found,) = [r for r in rows if needle in r["statement"]]
    return int(found["generic_plans"]), int(found["custom_plans"])


async def _pages(
    engine: AsyncEngine, afters: list[tuple[Any, int]], newer: list[tuple[Any, int]]
) -> list[asyncpg.Record]:
    """Ten first pages, a cursor page after each of `afters` (each must be the 21 rows that
    follow it in `newer`, the whole listing newest first) and ten first pages with the LIMIT
    bound (the control) on one connection; then that connection's prepared statements."""
    first = statement_for(Shape.of("postgresql", PostFilter(), PostSort.newest, cursor=False), 21)
    after = statement_for(Shape.of("postgresql", PostFilter(), PostSort.newest, cursor=True), 21)
    async with engine.connect() as connection:
        for _ in range(10):
            assert len(await first.all(connection, status="published")) == 21
        for created_at, post_id in afters:
            page = await after.all(
                connection, status="published", after_0=created_at, after_1=post_id
            )
            place = newer.index((created_at, post_id))
            assert [(r["created_at"], r["id"]) for r in page] == newer[place + 1 : place + 22]
        sql, _ = first._compiled(connection.dialect)
        assert "LIMIT 21" in sql
        raw = await connection.get_raw_connection()
        driver: asyncpg.Connection = raw.driver_connection
        bound = sql.replace("LIMIT 21", "LIMIT $2::INTEGER")
        for _ in range(10):
            assert len(await driver.fetch(bound, "published", 21)) == 21
        rows: list[asyncpg.Record] = await driver.fetch(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
        )
        return rows


FIRST_PAGE = "$1::VARCHAR ORDER BY posts.created_at DESC, posts.id DESC \n LIMIT 21"
CURSOR_PAGE = "< ($2::TIMESTAMP WITH TIME ZONE, $3::BIGINT) ORDER BY"
BOUND_LIMIT = "posts.id DESC \n LIMIT $2"


@pytest.mark.postgres_only
async def test_hot_listings_run_on_postgresqls_generic_plan(backend: str) -> None:
    """Every prepared statement keeps one generic plan (`DB_PLAN_CACHE_MODE`, default
    `force_generic_plan`): a cursor page is planned once, whatever the cursor. The control, in
    PostgreSQL's `auto` mode: the cursor page is re-planned on every execution (its estimate
    moves with the cursor's place), the first page gets the generic plan only because its LIMIT
    is written into the SQL (`row_limit`), and with the LIMIT bound it is re-planned too."""
    async with databases.postgres_database("plans") as url:
        engine = create_engine(url, make_settings(url))
        auto = create_engine(url, make_settings(url, db_plan_cache_mode="auto"))
        async with engine.begin() as connection:
            await run_alembic(connection, "upgrade", "head")
        params = SeedParams(users=200, posts=20_000, comments=100, likes=100, follows=50, seed=3)
        await seed(url, params)
        try:
            async with engine.connect() as connection:
                await connection.exec_driver_sql("ANALYZE")
                places = await connection.exec_driver_sql(
                    "SELECT created_at, id FROM posts WHERE status = 'published'"
                    " ORDER BY created_at DESC, id DESC"
                )
                ordered = [(r._mapping["created_at"], r._mapping["id"]) for r in places.all()]
            # Ten cursors spread over the listing, the oldest first, as a reader jumps around.
            afters = [ordered[i] for i in range(len(ordered) - 1, 0, -len(ordered) // 10)]
            assert len(afters) == 10
            forced = await _pages(engine, afters, ordered)
            assert _plans(forced, FIRST_PAGE) == (10, 0)
            assert _plans(forced, CURSOR_PAGE) == (10, 0)
            assert _plans(forced, BOUND_LIMIT) == (10, 0)
            control = await _pages(auto, afters, ordered)
            # PostgreSQL's rule: five custom plans, then the generic one if it is no costlier.
            assert _plans(control, FIRST_PAGE) == (5, 5)
            assert _plans(control, CURSOR_PAGE) == (0, 10)
            assert _plans(control, BOUND_LIMIT) == (0, 10)
        finally:
            await engine.dispose()
            await auto.dispose()
