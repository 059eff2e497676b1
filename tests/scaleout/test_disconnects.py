"""Clients that go away mid-request, and cancelled requests, leak no connection and leave no
`idle in transaction` session: a real uvicorn process, and an in-process cancellation."""

import asyncio
import os
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from tests.scaleout.probe import running_app
from tests.scaleout.test_faults import assert_no_leak, sessions
from tests.support.network import free_port
from tests.support.paths import ROOT
from tests.support.scaleout import ScaleoutDb, wait_for
from tests.support.settings import TEST_JWT_SECRET, make_settings

POOL_SIZE = 2


@pytest.fixture
async def server(scaleout_db: ScaleoutDb) -> AsyncIterator[str]:
    """uvicorn serving the probe app on the throw-away database."""
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "DB_", "JWT_"))
    }
    env |= {
        "DATABASE_URL": scaleout_db.primary_url,
        "JWT_SECRET": TEST_JWT_SECRET,
        "ENVIRONMENT": "test",
        "DB_POOL_SIZE": str(POOL_SIZE),
        "DB_MAX_OVERFLOW": "0",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "tests.scaleout.probe:create_probe_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=2) as client:

            async def live() -> bool:
                return (await client.get("/health/live")).status_code == 200

            await wait_for(live, within=30, interval=0.2)
        yield base
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=15)


async def _hang_up(base: str, method: str, path: str) -> None:
    """Send a request, then close the socket before the answer comes."""
    port = int(base.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n".encode())
    await writer.drain()
    await asyncio.sleep(0.3)
    writer.close()
    await writer.wait_closed()
    del reader


async def test_disconnected_clients_leak_nothing(server: str, scaleout_db: ScaleoutDb) -> None:
    async def sleeping() -> bool:
        return any("pg_sleep" in (r["query"] or "") for r in await sessions(scaleout_db))

    await asyncio.gather(
        _hang_up(server, "GET", "/_test/sleep?seconds=1.5"),
        _hang_up(server, "POST", "/_test/sleep?seconds=1.5"),
    )
    await wait_for(sleeping, within=5, interval=0.05)
    async with httpx.AsyncClient(base_url=server, timeout=10) as client:

        async def settled() -> bool:
            stats = (await client.get("/_test/pool")).json()
            if stats["primary"]["pool"]["checked_out"] != 0:
                return False
            rows = await sessions(scaleout_db)
            return not [r for r in rows if r["state"] != "idle"]

        await wait_for(settled, within=15, interval=0.2)
        # the pool still serves everyone
        results = await asyncio.gather(*(client.get("/api/v1/posts") for _ in range(6)))
        assert {r.status_code for r in results} == {200}
    rows = await sessions(scaleout_db)
    assert len(rows) <= POOL_SIZE, rows


@pytest.fixture
async def cancel_app(scaleout_db: ScaleoutDb) -> AsyncIterator[FastAPI]:
    settings = make_settings(scaleout_db.primary_url, db_pool_size=POOL_SIZE, db_max_overflow=0)
    async with running_app(settings) as app:
        yield app


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_cancelled_request_returns_its_connection(
    cancel_app: FastAPI, scaleout_db: ScaleoutDb, method: str
) -> None:
    async def sleeping() -> bool:
        rows = await sessions(scaleout_db)
        return any(r["state"] == "active" and "pg_sleep" in (r["query"] or "") for r in rows)

    async with AsyncClient(transport=ASGITransport(cancel_app), base_url="http://t") as client:
        request = asyncio.create_task(client.request(method, "/_test/sleep?seconds=5"))
        await wait_for(sleeping, within=5, interval=0.05)
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
        results = await asyncio.gather(*(client.get("/api/v1/posts") for _ in range(4)))
        assert {r.status_code for r in results} == {200}
    await assert_no_leak(cancel_app, scaleout_db, pool_size=POOL_SIZE)
