"""Webhook delivery throughput: 1,000 `post.published` events to 10 endpoints (10,000 signed
deliveries) on real receivers on 127.0.0.1, in process; prints the figures.

    .venv/bin/python scripts/webhook_throughput.py                 # SQLite, a temporary file
    DATABASE_URL=postgresql+asyncpg://127.0.0.1/DB .venv/bin/python scripts/webhook_throughput.py

The database must be empty (SQLite: a fresh file is made); the figures go to
docs/performance.md. Timing starts once the events are committed: the worker turns them into
deliveries (the job), then the sender sends them (in order per endpoint)."""

import asyncio
import os
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.jobs.worker import JOBS
from service.webhooks.runtime import WEBHOOKS
from tests.support.api import register
from tests.support.migrations import migrated_database
from tests.support.receivers import receiver
from tests.support.webhook_app import hooks_app

EVENTS, ENDPOINTS = 1000, 10


async def main() -> None:
    folder = tempfile.mkdtemp(prefix="inkwell-webhooks-")
    url = os.environ.get("DATABASE_URL") or f"sqlite+aiosqlite:///{folder}/throughput.db"
    await migrated_database(url)
    async with AsyncExitStack() as stack:
        targets = [await stack.enter_async_context(receiver()) for _ in range(ENDPOINTS)]
        hooks = await stack.enter_async_context(
            hooks_app(url, webhook_allowed_hosts=["127.0.0.1"], write_rate_limit="off")
        )
        owner = await register(hooks.client)
        for target in targets:
            payload = {"url": target.url, "events": ["post.published"]}
            created = await hooks.client.post(
                "/api/v1/users/me/webhooks", json=payload, headers=owner.headers
            )
            assert created.status_code == 201, created.text
        items = [{"title": f"e{i}", "body": "b", "status": "published"} for i in range(EVENTS)]
        bulk = await hooks.client.post(
            "/api/v1/posts/bulk", json={"items": items}, headers=owner.headers, timeout=120
        )
        assert bulk.status_code == 201, bulk.text
        started = time.perf_counter()
        await JOBS.of(hooks.app).drain(max_seconds=600)
        queued = time.perf_counter()
        await WEBHOOKS.of(hooks.app).sender.drain(max_seconds=1200)
        finished = time.perf_counter()
        succeeded = "SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded'"
        done = (await hooks.rows(succeeded))[0][0]
        received = sum(len(t.requests) for t in targets)
    total = finished - started
    backend = url.split(":", 1)[0]
    print(  # noqa: T201
        f"{backend}: {EVENTS} events x {ENDPOINTS} endpoints -> {done} deliveries succeeded,"
        f" {received} requests received; queueing {queued - started:.1f} s, sending"
        f" {finished - queued:.1f} s, total {total:.1f} s = {done / total:.0f} deliveries/s"
    )


if __name__ == "__main__":
    asyncio.run(main())
