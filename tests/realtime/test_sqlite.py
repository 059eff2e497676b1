"""The embedded default: one uvicorn process on SQLite broadcasts in-process after commit,
and everything the process logs is one JSON object per line."""

import asyncio
import json
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

from tests.support.api import register
from tests.support.migrations import migrated_database
from tests.support.servers import running_service


async def test_sqlite_feed_end_to_end(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'feed.db'}"
    await migrated_database(url)
    async with (
        running_service(url, tmp_path / "svc.log") as svc,
        httpx.AsyncClient(base_url=svc.url) as client,
    ):
        author = (await register(client, "sqlite_author")).headers
        async with connect(svc.feed) as feed:
            response = await client.post(
                "/api/v1/posts",
                json={"title": "embedded", "body": "b", "status": "published"},
                headers=author | {"X-Request-ID": "e2e-create-1"},
            )
            message = json.loads(await asyncio.wait_for(feed.recv(), 1))
        log_text = svc.log_tail(10_000)
    assert (message["type"], message["post"]) == ("post.published", response.json())
    assert isinstance(message["event_id"], int)
    assert response.headers["X-Request-ID"] == "e2e-create-1"

    lines = [json.loads(line) for line in log_text.splitlines() if line.strip()]
    assert all({"ts", "level", "logger", "message"} <= line.keys() for line in lines)
    access = [line for line in lines if line.get("request_id") == "e2e-create-1"]
    assert len(access) == 1
    assert access[0]["route"] == "/api/v1/posts"
    assert access[0]["status"] == 201
    assert isinstance(access[0]["user_id"], int)
    assert any(line["logger"] == "uvicorn.error" for line in lines)  # uvicorn's too
