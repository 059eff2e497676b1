"""Keyset vs OFFSET: the first page, and the page after 10 000 rows, through the real repository.

Keyset seeks straight to `(created_at, id) < cursor` on ix_posts_created_at_id, so the page at
depth 10 000 costs about what the first page costs; OFFSET reads and throws away 10 000 rows.
"""

from collections.abc import Iterator
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from benchmarks.conftest import Runner
from service.database.engines import create_engine, make_sessionmaker
from service.posts import queries, repository
from service.posts.models import Post, PostStatus
from service.posts.schemas import PostFilter, PostSort
from service.settings import Settings

DEPTH = 10_000
LIMIT = 20
SORT = queries.SORTS[PostSort.newest]


@pytest.fixture(scope="module")
def engine(runner: Runner, database_url: str) -> Iterator[AsyncEngine]:
    settings = Settings(database_url=database_url, _env_file=None)
    engine = create_engine(database_url, settings)
    yield engine
    runner.run(engine.dispose())


@pytest.fixture(scope="module")
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


@pytest.fixture(scope="module")
def cursor_at_depth(runner: Runner, sessionmaker: async_sessionmaker[AsyncSession]) -> list[Any]:
    """The sort values of row number DEPTH, as a decoded cursor would carry them."""

    async def find() -> list[Any]:
        async with sessionmaker() as session:
            rows = await queries.page_rows(
                await session.connection(),
                filters=PostFilter(),
                sort=PostSort.newest,
                after=None,
                limit=DEPTH,
            )
        last = rows[DEPTH - 1]
        return [last["created_at"], last["id"]]

    return runner.run(find())


def _page(sessionmaker: async_sessionmaker[AsyncSession], after: list[Any] | None) -> Any:
    async def run() -> int:
        async with sessionmaker() as session:
            rows = await queries.page_rows(
                await session.connection(),
                filters=PostFilter(),
                sort=PostSort.newest,
                after=after,
                limit=LIMIT,
            )
        assert len(rows) == LIMIT + 1
        return len(rows)

    return run


def test_keyset_first_page(
    benchmark: BenchmarkFixture, runner: Runner, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    benchmark(runner.timed(_page(sessionmaker, None)))


def test_keyset_depth_10000(
    benchmark: BenchmarkFixture,
    runner: Runner,
    sessionmaker: async_sessionmaker[AsyncSession],
    cursor_at_depth: list[Any],
) -> None:
    benchmark(runner.timed(_page(sessionmaker, cursor_at_depth)))


def test_offset_depth_10000(
    benchmark: BenchmarkFixture, runner: Runner, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The same page by OFFSET: what keyset pagination avoids."""

    async def run() -> int:
        async with sessionmaker() as session:
            base = repository.with_relations().where(col(Post.status) == PostStatus.published)
            page = base.order_by(*SORT.order_by()).offset(DEPTH).limit(LIMIT + 1)
            rows = (await session.exec(page)).all()
        assert len(rows) == LIMIT + 1
        return len(rows)

    benchmark(runner.timed(run))
