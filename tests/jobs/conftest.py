"""A committed database of its own per test (both backends) and a worker built on it."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from service.database.session import Database
from service.settings import Settings
from tests.support import databases
from tests.support.migrations import migrated_database
from tests.support.settings import make_settings


@pytest.fixture
async def jobs_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield await migrated_database(f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}")
        return
    async with databases.postgres_database("jobs") as url:
        yield await migrated_database(url)


@pytest.fixture
def jobs_settings(jobs_url: str) -> Settings:
    return make_settings(jobs_url).model_copy(
        update={"jobs_backoff_seconds": 0.01, "jobs_max_attempts": 3}
    )


@pytest.fixture
async def database(jobs_settings: Settings) -> AsyncIterator[Database]:
    db = Database.from_settings(jobs_settings)
    yield db
    await db.dispose()
