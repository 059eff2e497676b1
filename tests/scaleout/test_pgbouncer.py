"""DB_PGBOUNCER=true behind the real PgBouncer in transaction mode: concurrent reads and writes
from more sessions than server connections never clash on prepared statements."""

import asyncio

from httpx import ASGITransport, AsyncClient
from sqlalchemy.engine import make_url

from tests.scaleout.probe import running_app
from tests.support import databases
from tests.support.api import register_with_token
from tests.support.scaleout import ScaleoutDb
from tests.support.settings import make_settings


async def test_concurrent_api_traffic_through_pgbouncer(scaleout_db: ScaleoutDb) -> None:
    pgbouncer = scaleout_db.cluster.pgbouncer_url
    if pgbouncer is None:
        databases.unavailable("TEST_PGBOUNCER_URL is not set and db-up.sh started no PgBouncer")
        return
    url = make_url(pgbouncer).set(database=scaleout_db.name)
    # What is tested is that statements never clash, not latency: a pool slot may take longer
    # than the default 3 s when the machine is busy (parallel workers).
    settings = make_settings(
        url.render_as_string(hide_password=False),
        db_pgbouncer=True,
        db_pool_size=15,
        db_pool_timeout=30,
    )
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
