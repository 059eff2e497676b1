"""Bursts are queued, not refused: 100 concurrent registrations, then 100 concurrent logins of
distinct users from distinct addresses, on the default configuration (one process, pool 10+5,
3 s pool timeout), all succeed against the real server; argon2 never runs inside a database
transaction (PostgreSQL shows no transaction idle for long while they run)."""

import asyncio
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.support.databases import _dsn
from tests.support.servers import Service, served

API = "/api/v1"
BURST = 100
PASSWORD = "burst-password-123"
# Default limits, as a deployment without settings has them (the test servers turn them off).
DEFAULTS = {"WRITE_RATE_LIMIT": "300/minute", "SEARCH_RATE_LIMIT": "120/minute"}
STALE = 0.5
"""Seconds a transaction may sit idle before it counts as held across a password hash."""


@pytest.fixture
async def service(backend: str, tmp_path: Path) -> AsyncIterator[tuple[Service, str]]:
    async with served(backend, tmp_path, DEFAULTS) as served_:
        yield served_


def _client(service: Service, n: int) -> httpx.AsyncClient:
    """A client from its own loopback address (127.0.1.n): per-address limits see 100 clients."""
    transport = httpx.AsyncHTTPTransport(local_address=f"127.0.1.{n + 1}")
    return httpx.AsyncClient(base_url=service.url, transport=transport, timeout=120)


async def _burst(service: Service, requests: list[tuple[str, dict[str, Any]]]) -> Counter[int]:
    async def one(n: int, path: str, kwargs: dict[str, Any]) -> int:
        async with _client(service, n) as client:
            response = await client.post(API + path, **kwargs)
            return response.status_code

    statuses = await asyncio.gather(*(one(n, p, k) for n, (p, k) in enumerate(requests)))
    return Counter(statuses)


async def _watch_idle_transactions(database: str, stop: asyncio.Event, backend: str) -> int:
    """How many times a transaction of `database` was seen idle longer than STALE (PostgreSQL;
    SQLite has no such view: its write lock would turn into 503s, which the statuses show)."""
    if backend == "sqlite":
        return 0
    connection = await asyncpg.connect(_dsn(database))
    seen = 0
    try:
        while not stop.is_set():
            seen += await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND state = 'idle in transaction' AND now() - state_change > $1",
                timedelta(seconds=STALE),
            )
            await asyncio.sleep(0.05)
    finally:
        await connection.close()
    return seen


async def test_registration_and_login_bursts_are_queued_not_refused(
    backend: str, service: tuple[Service, str]
) -> None:
    server, url = service
    names = [f"burst_{n}" for n in range(BURST)]
    users = [
        ("/users", {"json": {"username": u, "email": f"{u}@example.com", "password": PASSWORD}})
        for u in names
    ]
    logins = [("/auth/token", {"data": {"username": u, "password": PASSWORD}}) for u in names]

    stop = asyncio.Event()
    watcher = asyncio.create_task(_watch_idle_transactions(url, stop, backend))
    started = time.monotonic()
    registered = await _burst(server, users)
    middle = time.monotonic()
    logged_in = await _burst(server, logins)
    ended = time.monotonic()
    stop.set()
    held = await watcher

    sys.stdout.write(
        f"\n[burst {backend}] {BURST} registrations: {dict(registered)} in"
        f" {middle - started:.1f} s; {BURST} logins: {dict(logged_in)} in {ended - middle:.1f} s;"
        f" transactions idle > {STALE} s seen: {held}\n"
    )
    assert registered == Counter({201: BURST})
    assert logged_in == Counter({200: BURST})
    assert held == 0
