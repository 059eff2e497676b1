"""GET /posts/export of 200k posts from a real server process: memory flat, first bytes early.

Bound: the export is ~140 MB of NDJSON (200k posts x ~700 bytes). Buffering it (a list of
rows, or the body) would grow the process by several times that (Python objects); streaming
holds one chunk of CHUNK rows (~1 MB of text, a few MB of objects) at a time. 50 MB leaves room
for allocator slack and the driver's buffers while failing any design that holds a tenth of
the export in memory.
"""

import asyncio
import logging
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from service.database.engines import create_engine
from service.posts.export import CHUNK
from tests.support.servers import running_service
from tests.support.settings import make_settings

log = logging.getLogger("inkwell.tests.export")

POSTS = 200_000
RSS_GROWTH_BOUND = 50 * 1024 * 1024
BODY = "lorem ipsum " * 50  # 600 characters

_USER = text(
    "INSERT INTO users (username, email, password_hash, token_version, created_at, updated_at)"
    " VALUES ('exporter', 'exporter@example.com', 'x', 0, :now, :now)"
)
_PG_POSTS = text(
    "INSERT INTO posts (author_id, title, slug, body, status, metadata, like_count, version,"
    " created_at, updated_at)"
    " SELECT 1, 'post ' || g, 'export-' || g, :body, 'published', '{}', 0, 1,"
    " now() - (:n - g) * interval '1 millisecond', now() FROM generate_series(1, :n) AS g"
)
_SQLITE_POSTS = text(
    "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < :n)"
    " INSERT INTO posts (author_id, title, slug, body, status, metadata, like_count, version,"
    " created_at, updated_at)"
    " SELECT 1, 'post ' || i, 'export-' || i, :body, 'published', '{}', 0, 1,"
    " strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || ((:n - i) / 1000.0) || ' seconds'),"
    " strftime('%Y-%m-%d %H:%M:%f', 'now') FROM g"
)


async def _seed(engine: AsyncEngine) -> None:
    postgres = engine.dialect.name == "postgresql"
    async with engine.begin() as connection:
        now = (await connection.execute(text("SELECT CURRENT_TIMESTAMP"))).scalar_one()
        await connection.execute(_USER, {"now": now})
        statement = _PG_POSTS if postgres else _SQLITE_POSTS
        params = {"n": POSTS, "body": BODY}
        await connection.execute(statement, params)


def _rss(pid: int) -> int:
    """VmRSS: the process' resident set size now, in bytes (sampled while the body streams:
    VmHWM would also hold the start-up peak, which could hide the export's)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/<pid>/status")


async def _cursor_still_open(engine: AsyncEngine) -> bool:
    """Is a service connection inside its export transaction, reading the cursor (not this
    query's own connection, whose text would match any pattern written here)?"""
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid() AND application_name LIKE 'inkwell-%'"
        " AND xact_start IS NOT NULL AND query LIKE 'FETCH % FROM export'"
    )
    async with engine.connect() as connection:
        return bool((await connection.execute(query)).scalar_one())


@pytest.mark.slow("loads 200k posts, then streams them through a real server")
async def test_export_streams_200k_posts_in_flat_memory(committed_url: str, tmp_path: Path) -> None:
    # The seed is one big INSERT ... SELECT (search vector, indexes): no 15 s/20 s timeouts.
    settings = make_settings(committed_url, db_statement_timeout_ms=0, db_command_timeout=600)
    engine = create_engine(committed_url, settings, role="export-test")
    try:
        await _seed(engine)
        async with running_service(committed_url, tmp_path / "svc.log") as svc:
            token = await _token(committed_url)
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(base_url=svc.url, headers=headers, timeout=120) as client:
                # Warm up the code paths (imports, statement caches) with a small export.
                recent = {"created_after": "2999-01-01"}
                assert (await client.get("/api/v1/posts/export", params=recent)).status_code == 200
                pid = svc.process.pid
                before = peak = _rss(pid)
                started = time.monotonic()
                async with client.stream("GET", "/api/v1/posts/export") as response:
                    assert response.status_code == 200
                    chunks = response.aiter_bytes()
                    first = await anext(chunks)
                    first_byte = time.monotonic() - started
                    # Stop reading for a moment: the query must still be open server-side.
                    await asyncio.sleep(0.5)
                    if engine.dialect.name == "postgresql":
                        assert await _cursor_still_open(engine)
                    lines, size = first.count(b"\n"), len(first)
                    async for chunk in chunks:
                        lines += chunk.count(b"\n")
                        size += len(chunk)
                        peak = max(peak, _rss(pid))
                total = time.monotonic() - started
                growth = max(peak, _rss(pid)) - before
        log.warning(
            "export[%s]: %d posts, %.1f MiB in %.1f s, first byte after %.0f ms,"
            " peak RSS growth %.1f MiB (chunk %d rows)",
            *(engine.dialect.name, lines, size / 2**20, total, first_byte * 1000),
            *(growth / 2**20, CHUNK),
        )
        assert lines == POSTS
        assert len(first) < size / 10, "the first write was not a chunk of the export"
        assert first_byte < total / 5, "the first bytes came only once the query had finished"
        assert growth < RSS_GROWTH_BOUND, f"peak RSS grew by {growth / 2**20:.1f} MiB"
    finally:
        await engine.dispose()


async def _token(url: str) -> str:
    from service.users.security import create_access_token

    settings = make_settings(url)
    assert make_url(url).drivername
    return create_access_token(settings, user_id=1, token_version=0)
