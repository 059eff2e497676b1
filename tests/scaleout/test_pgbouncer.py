"""DB_PGBOUNCER=true behind the real PgBouncer in transaction mode: concurrent reads and writes
from more sessions than server connections never clash on prepared statements; a PgBouncer
restart is answered 503 + Retry-After while it is down, and the pool recovers by itself."""

import asyncio
import time
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy.engine import make_url

from service.settings import Settings
from tests.scaleout.probe import running_app
from tests.support import databases
from tests.support.api import register_with_token
from tests.support.scaleout import ScaleoutDb
from tests.support.settings import make_settings


def _through_pgbouncer(scaleout_db: ScaleoutDb, **overrides: Any) -> Settings | None:
    pgbouncer = scaleout_db.cluster.pgbouncer_url
    if pgbouncer is None:
        databases.unavailable("TEST_PGBOUNCER_URL is not set and db-up.sh started no PgBouncer")
        return None
    url = make_url(pgbouncer).set(database=scaleout_db.name)
    return make_settings(url.render_as_string(hide_password=False), db_pgbouncer=True, **overrides)


async def test_concurrent_api_traffic_through_pgbouncer(scaleout_db: ScaleoutDb) -> None:
    # What is tested is that statements never clash, not latency: a pool slot may take longer
    # than the default 3 s when the machine is busy (parallel workers).
    settings = _through_pgbouncer(scaleout_db, db_pool_size=15, db_pool_timeout=30)
    if settings is None:
        return
    async with (
        running_app(settings) as app,
        AsyncClient(transport=ASGITransport(app), base_url="http://t", timeout=30) as client,
    ):
        headers = (await register_with_token(client, settings)).headers

        async def write_then_read(i: int) -> tuple[int, int]:
            post = await client.post(
                "/api/v1/posts",
                json={"title": f"t{i}", "body": "b", "status": "published"},
                headers=headers,
            )
            read = await client.get(f"/api/v1/posts/{post.json()['id']}")
            return post.status_code, read.status_code

        for _ in range(3):
            results = await asyncio.gather(*(write_then_read(i) for i in range(30)))
            assert set(results) == {(201, 200)}
            listing = await client.get("/api/v1/posts", params={"limit": 100})
            assert listing.status_code == 200


@pytest.mark.exclusive("stops the cluster's PgBouncer")
async def test_a_pgbouncer_restart_is_503s_then_writes_resume(scaleout_db: ScaleoutDb) -> None:
    settings = _through_pgbouncer(scaleout_db, db_pool_size=4)
    if settings is None:
        return
    cluster = scaleout_db.cluster
    post = {"title": "t", "body": "b", "status": "published"}
    async with (
        running_app(settings) as app,
        AsyncClient(transport=ASGITransport(app), base_url="http://t", timeout=30) as client,
    ):
        headers = (await register_with_token(client, settings)).headers
        warm = await asyncio.gather(*(client.get("/api/v1/posts") for _ in range(4)))
        assert {r.status_code for r in warm} == {200}  # the pool holds connections to it
        during: list[tuple[int, str | None]] = []
        try:
            await asyncio.to_thread(cluster.ctl, "pgbouncer", "stop")
            for _ in range(3):
                for answer in (
                    await client.get("/api/v1/posts"),
                    await client.post("/api/v1/posts", json=post, headers=headers),
                ):
                    during.append((answer.status_code, answer.headers.get("Retry-After")))
        finally:
            await asyncio.to_thread(cluster.ctl, "pgbouncer", "start")
        assert {status for status, _ in during} == {503}, during
        assert all(retry for _, retry in during), during
        back = time.monotonic()
        while (
            written := await client.post("/api/v1/posts", json=post, headers=headers)
        ).status_code != 201:
            assert written.status_code == 503, written.text
            assert time.monotonic() - back < 30, "writes never resumed"
            await asyncio.sleep(0.05)
        results = await asyncio.gather(*(client.get("/api/v1/posts") for _ in range(8)))
        assert {r.status_code for r in results} == {200}
