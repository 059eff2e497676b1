"""The machine's real Redis for the shared rate-limit tests: one database per test module."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as redis


@asynccontextmanager
async def emptied_redis(database: int) -> AsyncIterator[str]:
    """The URL of Redis database `database` on 127.0.0.1:6379, emptied before and after."""
    url = f"redis://127.0.0.1:6379/{database}"
    client = redis.Redis.from_url(url)
    try:
        await client.flushdb()
        yield url
        await client.flushdb()
    finally:
        await client.aclose()
