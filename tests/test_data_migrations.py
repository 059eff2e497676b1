"""Migrations as a team runs them: one head, offline SQL a DBA can apply, a batched backfill
on a database that holds rows (both backends, through the real `alembic` command)."""

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.database.engines import create_engine
from tests.support import databases
from tests.support.databases import _dsn
from tests.support.migrations import alembic_config
from tests.support.paths import ROOT
from tests.support.settings import make_settings
from tests.test_migrations import _diff

EXPAND = "5c3f9e2a7b1d"
"""The DDL revision that adds posts.excerpt; the next one (the head) backfills it."""
ROWS = 2500
BODY = "x" * 300


def _head() -> str:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, f"several heads: {heads}; merge them (alembic merge heads)"
    return heads[0]


def test_there_is_a_single_head() -> None:
    _head()


async def _alembic(url: str, *args: str) -> tuple[int, str]:
    env = os.environ | {"DATABASE_URL": url, "ENVIRONMENT": "test"}
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "alembic", *args),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode() + err.decode()


@pytest.fixture
async def empty_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'data-migration.db'}"
        return
    async with databases.postgres_database("datamig") as url:
        yield url


async def _scalar(engine: AsyncEngine, sql: str) -> object:
    async with engine.connect() as connection:
        return (await connection.execute(text(sql))).scalar_one()


async def _seed(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO users (username, email, password_hash, created_at, updated_at)"
                " VALUES ('writer', 'writer@example.com', 'x', CURRENT_TIMESTAMP,"
                " CURRENT_TIMESTAMP)"
            )
        )
        rows = [
            {"slug": f"p-{i}", "body": f"{i} {BODY}", "status": "published"} for i in range(ROWS)
        ]
        await connection.execute(
            text(
                "INSERT INTO posts (author_id, title, slug, body, status, metadata, like_count,"
                " version, created_at, updated_at) VALUES (1, 't', :slug, :body, :status, '{}',"
                " 0, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            rows,
        )


async def test_the_backfill_runs_in_batches_and_resumes(empty_url: str) -> None:
    assert (await _alembic(empty_url, "upgrade", EXPAND))[0] == 0
    engine = create_engine(empty_url, make_settings(empty_url), role="data-migration-test")
    try:
        await _seed(engine)
        missing = "SELECT count(*) FROM posts WHERE excerpt IS NULL"
        assert await _scalar(engine, missing) == ROWS

        # Interrupted after one batch: that batch is committed, the revision is not stamped.
        code, output = await _alembic(
            empty_url,
            "-x",
            "backfill_batch=1000",
            "-x",
            "backfill_max_batches=1",
            "upgrade",
            "head",
        )
        assert code != 0
        assert "stopped after 1 batches (1000 rows)" in output
        assert await _scalar(engine, missing) == ROWS - 1000
        assert await _scalar(engine, "SELECT version_num FROM alembic_version") == EXPAND

        # Run again: it picks up the rows still NULL and finishes.
        code, output = await _alembic(empty_url, "-x", "backfill_batch=1000", "upgrade", "head")
        assert code == 0, output
        assert await _scalar(engine, missing) == 0
        wrong = "SELECT count(*) FROM posts WHERE excerpt <> substr(body, 1, 280)"
        assert await _scalar(engine, wrong) == 0
        assert await _scalar(engine, "SELECT max(length(excerpt)) FROM posts") == 280
        assert await _scalar(engine, "SELECT version_num FROM alembic_version") == _head()
    finally:
        await engine.dispose()


@pytest.mark.postgres_only
async def test_offline_sql_builds_the_schema_a_dba_can_apply(empty_url: str) -> None:
    code, script = await _alembic(empty_url, "upgrade", "head", "--sql")
    assert code == 0, script
    sql = script[: script.rindex("COMMIT;") + len("COMMIT;")]
    assert "UPDATE posts SET excerpt = substr(body, 1, 280) WHERE excerpt IS NULL" in sql
    connection = await asyncpg.connect(_dsn(empty_url))
    try:
        await connection.execute(sql)  # the whole script, as psql -f would run it
    finally:
        await connection.close()
    engine = create_engine(empty_url, make_settings(empty_url), role="offline-test")
    try:
        assert await _scalar(engine, "SELECT version_num FROM alembic_version") == _head()
        async with engine.connect() as connection:
            assert await connection.run_sync(_diff) == []
    finally:
        await engine.dispose()


@pytest.mark.sqlite_only
async def test_offline_sql_is_refused_for_sqlite(empty_url: str) -> None:
    code, output = await _alembic(empty_url, "upgrade", "head", "--sql")
    assert code != 0
    assert "offline (--sql) migrations are for PostgreSQL URLs only" in output
