"""Fan-out runs after the response in its OWN committed transaction; failures are logged."""

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from service.notifications import service as notifications
from service.posts.models import Post
from tests.support.api import register


async def test_fan_out_commits_in_its_own_transaction(
    real_app: FastAPI, observer: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    async def recipients(session: AsyncSession, post: Post) -> AsyncIterator[list[int]]:
        # The request's transaction has already committed: another connection sees the post.
        async with observer.connect() as other:
            seen["post_visible"] = (
                await other.execute(
                    text("SELECT count(*) FROM posts WHERE id = :i"), {"i": post.id}
                )
            ).scalar_one()
        seen["in_transaction"] = session.in_transaction()
        yield [reader_id, author_id]

    async with AsyncClient(transport=ASGITransport(real_app), base_url="http://t") as client:
        author_id, author = await register(client, "author")
        reader_id, reader = await register(client, "reader")
        monkeypatch.setattr(notifications, "recipients_for_post", recipients)
        response = await client.post(
            "/api/v1/posts", json={"title": "t", "body": "b", "status": "published"}, headers=author
        )
        assert response.status_code == 201
        post_id = response.json()["id"]

        # ASGITransport returns once background tasks are done: check from another connection.
        async with observer.connect() as other:
            rows = (await other.execute(text("SELECT user_id, post_id FROM notifications"))).all()
        assert [tuple(r) for r in rows] == [(reader_id, post_id)]  # never the author
        assert seen == {"post_visible": 1, "in_transaction": True}

        page = await client.get("/api/v1/users/me/notifications", headers=reader)
        assert page.status_code == 200
        assert [n["post_id"] for n in page.json()["items"]] == [post_id]
        assert (await client.get("/api/v1/users/me/notifications", headers=author)).json()[
            "items"
        ] == []


async def test_drafts_fan_out_nothing_until_published(
    real_app: FastAPI, observer: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with AsyncClient(transport=ASGITransport(real_app), base_url="http://t") as client:
        _, author = await register(client, "writer")
        reader_id, _ = await register(client, "follower")

        async def recipients(session: AsyncSession, post: Post) -> AsyncIterator[list[int]]:
            yield [reader_id]

        monkeypatch.setattr(notifications, "recipients_for_post", recipients)
        draft = await client.post("/api/v1/posts", json={"title": "t", "body": "b"}, headers=author)
        count = text("SELECT count(*) FROM notifications")
        async with observer.connect() as other:
            assert (await other.execute(count)).scalar_one() == 0
        published = await client.patch(
            f"/api/v1/posts/{draft.json()['id']}", json={"status": "published"}, headers=author
        )
        assert published.status_code == 200
        async with observer.connect() as other:
            assert (await other.execute(count)).scalar_one() == 1


async def test_a_failing_task_is_logged_with_the_request_id(
    real_app: FastAPI,
    observer: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def recipients(session: AsyncSession, post: Post) -> AsyncIterator[list[int]]:
        yield [987_654_321]  # no such user: the foreign key rejects the insert

    async with AsyncClient(transport=ASGITransport(real_app), base_url="http://t") as client:
        _, author = await register(client, "unlucky")
        monkeypatch.setattr(notifications, "recipients_for_post", recipients)
        caplog.set_level(logging.ERROR, logger="inkwell.notifications")
        response = await client.post(
            "/api/v1/posts",
            json={"title": "t", "body": "b", "status": "published"},
            headers=author | {"X-Request-ID": "fanout-fails-1"},
        )
    assert response.status_code == 201  # the request's own write is committed regardless
    failures = [r for r in caplog.records if r.name == "inkwell.notifications"]
    assert len(failures) == 1
    assert failures[0].request_id == "fanout-fails-1"  # type: ignore[attr-defined]
    assert failures[0].post_id == response.json()["id"]  # type: ignore[attr-defined]
    assert failures[0].exc_info is not None
    async with observer.connect() as other:
        posts = await other.execute(text("SELECT count(*) FROM posts"))
        notes = await other.execute(text("SELECT count(*) FROM notifications"))
        assert (posts.scalar_one(), notes.scalar_one()) == (1, 0)


async def test_fan_out_with_explicit_recipients(real_app: FastAPI, observer: AsyncEngine) -> None:
    async with AsyncClient(transport=ASGITransport(real_app), base_url="http://t") as client:
        author_id, author = await register(client, "explicit")
        ids = [(await register(client, f"reader_{i}"))[0] for i in range(3)]
        post = await client.post("/api/v1/posts", json={"title": "t", "body": "b"}, headers=author)
    written = await notifications.fan_out_new_post(
        real_app.state.db.sessionmaker,
        post_id=post.json()["id"],
        recipients=[*ids, author_id, ids[0]],
    )
    assert written == 3
    async with observer.connect() as other:
        rows = await other.execute(text("SELECT user_id FROM notifications ORDER BY user_id"))
        assert rows.scalars().all() == sorted(ids)


async def test_my_notifications_are_a_keyset_page_newest_first(real_app: FastAPI) -> None:
    async with AsyncClient(transport=ASGITransport(real_app), base_url="http://t") as client:
        _, author = await register(client, "prolific")
        reader_id, reader = await register(client, "avid_reader")
        post_ids = []
        for i in range(5):
            post = await client.post(
                "/api/v1/posts", json={"title": f"p{i}", "body": "b"}, headers=author
            )
            post_ids.append(post.json()["id"])
            await notifications.fan_out_new_post(
                real_app.state.db.sessionmaker, post_id=post_ids[-1], recipients=[reader_id]
            )
        seen: list[int] = []
        cursor = None
        while True:
            params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            page = (
                await client.get("/api/v1/users/me/notifications", params=params, headers=reader)
            ).json()
            seen += [n["post_id"] for n in page["items"]]
            assert len(page["items"]) <= 2
            if (cursor := page["next_cursor"]) is None:
                break
        assert seen == post_ids[::-1]
        anonymous = await client.get("/api/v1/users/me/notifications")
        assert anonymous.status_code == 401


async def test_followers_are_notified_of_a_new_post(
    real_app: FastAPI, observer: AsyncEngine
) -> None:
    async with AsyncClient(transport=ASGITransport(real_app), base_url="http://t") as client:
        author_id, author = await register(client, "followed")
        fan_id, fan = await register(client, "fan_one")
        await register(client, "stranger")
        followed = await client.put(f"/api/v1/users/{author_id}/follow", headers=fan)
        assert followed.status_code in (200, 204), followed.text
        post = await client.post(
            "/api/v1/posts", json={"title": "t", "body": "b", "status": "published"}, headers=author
        )
        async with observer.connect() as other:
            rows = await other.execute(text("SELECT user_id, post_id FROM notifications"))
            assert [tuple(r) for r in rows] == [(fan_id, post.json()["id"])]
        page = (await client.get("/api/v1/users/me/notifications", headers=fan)).json()
        assert [n["post_id"] for n in page["items"]] == [post.json()["id"]]
