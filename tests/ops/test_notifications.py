"""Notifications are an outbox job: the event commits with the post, the worker delivers it in
a transaction of its own, once per (event, recipient); the recipient's API (both backends)."""

import asyncio
from typing import Any

from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.jobs.worker import JOBS
from tests.support.api import register

POSTS = "/api/v1/posts"
MINE = "/api/v1/users/me/notifications"


async def _rows(observer: AsyncEngine, sql: str) -> list[tuple[Any, ...]]:
    async with observer.connect() as other:
        return [tuple(row) for row in await other.execute(text(sql))]


async def test_the_event_commits_with_the_post_and_the_worker_delivers_it(
    real_app: FastAPI, observer: AsyncEngine
) -> None:
    async with AsyncClient(transport=ASGITransport(real_app), base_url="http://t") as client:
        author_id, author = await register(client, "followed")
        fan_id, fan = await register(client, "fan_one")
        await register(client, "stranger")
        assert (await client.put(f"/api/v1/users/{author_id}/follow", headers=fan)).is_success
        post = await client.post(
            POSTS, json={"title": "t", "body": "b", "status": "published"}, headers=author
        )
        post_id = post.json()["id"]
        events = await _rows(observer, "SELECT topic, payload FROM outbox_events ORDER BY id")
        assert [topic for topic, _ in events] == ["follower.added", "post.published"]
        await JOBS.of(real_app).drain()
        assert await _rows(observer, "SELECT user_id, post_id FROM notifications") == [
            (fan_id, post_id)
        ]
        assert await _rows(observer, "SELECT DISTINCT state FROM outbox_events") == [("done",)]
        page = (await client.get(MINE, headers=fan)).json()
        assert [(n["type"], n["post_id"], n["read_at"]) for n in page["items"]] == [
            ("post.published", post_id, None)
        ]
        assert page["items"][0]["actor"] == {
            "id": author_id,
            "username": "followed",
            "display_name": None,
        }
        assert (await client.get(MINE, headers=author)).json()["items"] == []


async def test_a_re_run_never_duplicates(real_app: FastAPI, observer: AsyncEngine) -> None:
    async with AsyncClient(transport=ASGITransport(real_app), base_url="http://t") as client:
        author_id, author = await register(client, "rerun_author")
        for i in range(3):
            _, fan = await register(client, f"rerun_fan_{i}")
            await client.put(f"/api/v1/users/{author_id}/follow", headers=fan)
        await client.post(
            POSTS, json={"title": "t", "body": "b", "status": "published"}, headers=author
        )
        jobs = JOBS.of(real_app)
        await jobs.drain()
        async with observer.begin() as other:  # as if the worker died before marking it done
            await other.execute(
                text("UPDATE outbox_events SET state = 'pending' WHERE topic = 'post.published'")
            )
        # Run again, by this drain or by the embedded worker that may have claimed it first.
        await jobs.drain()
        for _ in range(100):
            if await _rows(observer, "SELECT DISTINCT state FROM outbox_events") == [("done",)]:
                break
            await asyncio.sleep(0.05)
        assert await _rows(observer, "SELECT DISTINCT state FROM outbox_events") == [("done",)]
    assert await _rows(observer, "SELECT count(*) FROM notifications") == [(3,)]


async def test_drafts_notify_nobody_until_published(
    real_app: FastAPI, observer: AsyncEngine
) -> None:
    async with AsyncClient(transport=ASGITransport(real_app), base_url="http://t") as client:
        author_id, author = await register(client, "writer")
        _, fan = await register(client, "follower")
        await client.put(f"/api/v1/users/{author_id}/follow", headers=fan)
        draft = await client.post(POSTS, json={"title": "t", "body": "b"}, headers=author)
        await JOBS.of(real_app).drain()
        events_sql = "SELECT count(*) FROM outbox_events WHERE topic = 'post.published'"
        assert await _rows(observer, events_sql) == [(0,)]
        published = await client.patch(
            f"{POSTS}/{draft.json()['id']}", json={"status": "published"}, headers=author
        )
        assert published.status_code == 200
        await JOBS.of(real_app).drain()
        assert await _rows(observer, "SELECT count(*) FROM notifications") == [(1,)]


async def test_unread_count_and_mark_read(real_app: FastAPI) -> None:
    async with AsyncClient(transport=ASGITransport(real_app), base_url="http://t") as client:
        author_id, author = await register(client, "prolific")
        _, reader = await register(client, "avid_reader")
        await client.put(f"/api/v1/users/{author_id}/follow", headers=reader)
        for i in range(5):
            await client.post(
                POSTS, json={"title": f"p{i}", "body": "b", "status": "published"}, headers=author
            )
        await JOBS.of(real_app).drain()
        count = f"{MINE}/unread_count"
        assert (await client.get(count, headers=reader)).json() == {"count": 5}
        items = (await client.get(MINE, headers=reader)).json()["items"]
        oldest_two = sorted(n["id"] for n in items)[1]
        marked = await client.post(f"{MINE}/read", json={"up_to_id": oldest_two}, headers=reader)
        assert marked.status_code == 204
        assert (await client.get(count, headers=reader)).json() == {"count": 3}
        assert (await client.post(f"{MINE}/read", headers=reader)).status_code == 204
        assert (await client.get(count, headers=reader)).json() == {"count": 0}
        items = (await client.get(MINE, headers=reader)).json()["items"]
        assert all(n["read_at"] is not None for n in items)
        assert (await client.get(count)).status_code == 401
        unknown = await client.post(f"{MINE}/read", json={"up_to": 1}, headers=reader)
        assert unknown.status_code == 422


async def test_my_notifications_are_a_keyset_page_newest_first(real_app: FastAPI) -> None:
    async with AsyncClient(transport=ASGITransport(real_app), base_url="http://t") as client:
        author_id, author = await register(client, "pager_author")
        _, reader = await register(client, "pager_reader")
        await client.put(f"/api/v1/users/{author_id}/follow", headers=reader)
        post_ids = []
        for i in range(5):
            post = await client.post(
                POSTS, json={"title": f"p{i}", "body": "b", "status": "published"}, headers=author
            )
            post_ids.append(post.json()["id"])
            await JOBS.of(real_app).drain()  # one created_at each
        seen: list[int] = []
        cursor = None
        while True:
            params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            page = (await client.get(MINE, params=params, headers=reader)).json()
            seen += [n["post_id"] for n in page["items"]]
            assert len(page["items"]) <= 2
            if (cursor := page["next_cursor"]) is None:
                break
        assert seen == post_ids[::-1]
        assert (await client.get(MINE)).status_code == 401
