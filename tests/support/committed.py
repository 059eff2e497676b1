"""Fixtures (a plugin tests/conftest.py loads) for tests that need real commits: a database of
their own and an app on it."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from service.database.engines import create_engine
from service.main import create_app
from tests.support.migrations import backend_database, migrated_database
from tests.support.servers import postgres_service_database
from tests.support.settings import make_settings


@pytest.fixture
async def committed_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A database of its own, migrated, where commits are real (no outer rollback)."""
    async with backend_database(backend, tmp_path, "committed") as url:
        yield url


@pytest.fixture
async def real_app(committed_url: str) -> AsyncIterator[FastAPI]:
    app = create_app(make_settings(committed_url))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def observer(committed_url: str) -> AsyncIterator[AsyncEngine]:
    """Another engine: what it sees is committed."""
    engine = create_engine(committed_url, make_settings(committed_url), role="observer")
    yield engine
    await engine.dispose()


@pytest.fixture
async def service_db(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'durable.db'}"
        await migrated_database(url)
        yield url
        return
    async with postgres_service_database("durable") as url:
        yield url
