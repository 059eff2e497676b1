"""SIGTERM under a steady stream of writes: readiness 503 at once, 1001 to websockets,
every acknowledged write durable, exit within the graceful timeout."""

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.support.api import register
from tests.support.databases import _dsn
from tests.support.servers import postgres_service_database, running_service

DELAY = 1.0
GRACEFUL = 10
WRITERS = 4


async def read_until_closed(feed: ClientConnection) -> None:
    while True:
        json.loads(await asyncio.wait_for(feed.recv(), 2))


@pytest.fixture
async def database() -> AsyncIterator[str]:
    async with postgres_service_database("shutdown") as url:
        yield url


async def test_sigterm_drains_writes_and_exits_in_time(database: str, tmp_path: Path) -> None:
    env = {"SHUTDOWN_DELAY_SECONDS": str(DELAY)}
    async with running_service(
        database, tmp_path / "svc.log", graceful_timeout=GRACEFUL, env=env
    ) as svc:
        async with httpx.AsyncClient(base_url=svc.url) as setup:
            author = (await register(setup, "shutdown_author")).headers

        acknowledged: list[int] = []
        stop = asyncio.Event()

        async def writer(n: int) -> None:
            async with httpx.AsyncClient(base_url=svc.url, timeout=GRACEFUL) as client:
                i = 0
                while not stop.is_set():
                    i += 1
                    body = {"title": f"w{n}-{i}", "body": "b", "status": "published"}
                    try:
                        response = await client.post("/api/v1/posts", json=body, headers=author)
                    except httpx.TransportError:
                        return  # the server stopped accepting: this writer is done
                    if response.is_success:
                        acknowledged.append(response.json()["id"])

        async with connect(svc.feed) as feed:
            writers = [asyncio.create_task(writer(n)) for n in range(WRITERS)]
            await asyncio.sleep(0.5)
            before = len(acknowledged)
            sent_at = svc.terminate()

            # Readiness flips at once, while the process still serves (the delay window).
            async with httpx.AsyncClient(base_url=svc.url) as probe:
                ready = await probe.get("/health/ready")
                live = await probe.get("/health/live")
            assert (ready.status_code, ready.json()["status"]) == (503, "shutting_down")
            assert live.status_code == 200

            # Websocket clients are told to go away (1001) straight away.
            with pytest.raises(ConnectionClosed) as closed:
                await read_until_closed(feed)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1001

            await asyncio.wait_for(svc.process.wait(), GRACEFUL + DELAY + 5)
            exited_at = time.monotonic()
            stop.set()
            await asyncio.gather(*writers)

    drain = exited_at - sent_at
    sys.stdout.write(
        f"\nSIGTERM -> exit {drain:.2f} s (of which {DELAY:.1f} s readiness delay),"
        f" {len(acknowledged)} writes acknowledged ({len(acknowledged) - before} after SIGTERM)\n"
    )
    assert svc.process.returncode in (0, -15), svc.log_tail()
    assert drain < GRACEFUL + DELAY
    assert len(acknowledged) > before  # writes kept succeeding during the delay window

    connection = await asyncpg.connect(_dsn(database))
    try:
        stored = {r["id"] for r in await connection.fetch("SELECT id FROM posts")}
    finally:
        await connection.close()
    assert set(acknowledged) <= stored  # every 2xx is durable
    assert "Application shutdown complete" in svc.log_tail(200)
