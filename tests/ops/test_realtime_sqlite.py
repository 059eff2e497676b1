"""The embedded default: one uvicorn process on SQLite broadcasts in-process after commit."""

import asyncio
import json
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

from tests.ops.servers import migrated_database, register, running_service


async def test_sqlite_feed_end_to_end(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'feed.db'}"
    await migrated_database(url)
    async with (
        running_service(url, tmp_path / "svc.log") as svc,
        httpx.AsyncClient(base_url=svc.url) as client,
    ):
        author = await register(client, "sqlite_author")
        async with connect(svc.feed) as feed:
            response = await client.post(
                "/api/v1/posts",
                json={"title": "embedded", "body": "b", "status": "published"},
                headers=author,
            )
            message = json.loads(await asyncio.wait_for(feed.recv(), 1))
    assert message == response.json()
