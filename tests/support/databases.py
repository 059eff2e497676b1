"""Throw-away PostgreSQL databases for tests: created per run, dropped afterwards."""

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from service.database.engines import create_engine
from tests.support.settings import make_settings
from tests.support.workers import worker_id

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def server_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", DEFAULT_URL)


def unavailable(reason: str) -> None:
    """Skip locally; under CI=true a missing database is a failure, never a skip."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: database tests may not skip)")
    pytest.skip(reason)


def _dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url)
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def postgres_database(purpose: str, base_url: str | None = None) -> AsyncIterator[str]:
    """Create `inkwell_test_<purpose>_<worker>_<random>` on the server of `base_url` (the
    worker: `gw0`... under xdist, `main` without); drop it at exit."""
    url = base_url or server_url()
    name = f"inkwell_test_{purpose}_{worker_id()}_{uuid.uuid4().hex[:8]}"
    admin_dsn = _dsn(url, "postgres")
    try:
        admin = await asyncpg.connect(admin_dsn, timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        unavailable(f"PostgreSQL at {make_url(url).host}:{make_url(url).port} unreachable: {error}")
        raise
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        # a fresh connection: tests may restart the server in between (scale-out fault tests)
        admin = await asyncpg.connect(admin_dsn, timeout=10)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def query_rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    """`sql`'s rows, read on a short-lived engine of its own (the app under test runs elsewhere)."""

    engine = create_engine(url, make_settings(url), role="observer")
    try:
        async with engine.connect() as connection:
            return [tuple(row) for row in await connection.execute(text(sql))]
    finally:
        await engine.dispose()
