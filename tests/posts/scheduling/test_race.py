"""Two job workers and two app instances (each with its embedded worker) on one committed
database, racing over the same due posts: each post is published once, with one
`post.published` event and one notification per follower (both backends)."""

import asyncio
from contextlib import AsyncExitStack

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from service import flows
from service.database.session import Database
from service.main import create_app
from tests.support.api import API, asgi_client, create_post_as, register
from tests.support.scaleout import wait_for
from tests.support.scheduled import scheduled
from tests.support.settings import make_settings

POSTS = 12
FANS = 2


async def _scalar(observer: AsyncEngine, sql: str) -> int:
    async with observer.connect() as connection:
        return int((await connection.execute(text(sql))).scalar_one())


async def test_racing_workers_publish_each_due_post_once(
    committed_url: str, observer: AsyncEngine
) -> None:
    settings = make_settings(committed_url, jobs_poll_seconds=0.05)
    apps: list[FastAPI] = [create_app(settings) for _ in range(2)]
    async with AsyncExitStack() as stack:
        for app in apps:  # each app instance runs its embedded worker
            await stack.enter_async_context(app.router.lifespan_context(app))
        client = await stack.enter_async_context(asgi_client(apps[0]))
        author = await register(client)
        for _ in range(FANS):
            fan = await register(client)
            await client.put(f"{API}/users/{author.id}/follow", headers=fan.headers)
        ids = [
            (await create_post_as(client, author.headers, **scheduled(1.0)))["id"]
            for _ in range(POSTS)
        ]
        databases = [Database.from_settings(settings) for _ in range(2)]
        workers = [flows.worker(settings, db) for db in databases]
        for worker in workers:
            worker.start()
        try:
            waiting = "SELECT count(*) FROM posts WHERE status = 'scheduled'"
            undone = "SELECT count(*) FROM outbox_events WHERE state <> 'done'"

            async def settled() -> bool:
                return await _scalar(observer, waiting) == 0 == await _scalar(observer, undone)

            await wait_for(settled, within=20)
            await asyncio.sleep(0.3)  # a late duplicate would have been written by now
        finally:
            for worker in workers:
                await worker.stop()
            for db in databases:
                await db.dispose()
    events = await _scalar(
        observer, "SELECT count(*) FROM outbox_events WHERE topic = 'post.published'"
    )
    assert events == POSTS
    async with observer.connect() as connection:
        rows = await connection.execute(text("SELECT id, version FROM posts"))
        assert sorted(rows.all()) == [(post_id, 2) for post_id in sorted(ids)]
    notifications = await _scalar(observer, "SELECT count(*) FROM notifications")
    assert notifications == POSTS * FANS
