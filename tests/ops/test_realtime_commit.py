"""A published post reaches the feed only if its transaction commits (both backends)."""

import asyncio
import json

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from service.posts.models import Post, PostStatus
from service.realtime.events import publish_post_created
from service.realtime.runtime import Realtime
from service.users.models import User
from tests.support.api import register


class Abort(Exception):
    pass


async def test_feed_sees_committed_posts_never_rolled_back_ones(real_app: FastAPI) -> None:
    realtime: Realtime = real_app.state.realtime
    if realtime.listener is not None:
        await asyncio.wait_for(realtime.listener.connected.wait(), 5)
    subscriber = realtime.hub.subscribe()
    sessionmaker = real_app.state.db.sessionmaker
    try:
        async with sessionmaker.begin() as session:
            user = User(username="committer", email="c@x.org", password_hash="x")
            session.add(user)
            await session.flush()
            user_id = user.id
        assert user_id is not None

        async def write(title: str) -> Post:
            async with sessionmaker.begin() as session:
                author = await session.get(User, user_id)
                assert author is not None
                post = Post(author_id=user_id, title=title, body="b", status=PostStatus.published)
                post.author = author
                post.tags = []
                session.add(post)
                await session.flush()
                await publish_post_created(session, post)
                if title == "rolled back":
                    raise Abort
            return post

        with pytest.raises(Abort):
            await write("rolled back")
        kept = await write("committed")

        message = json.loads(await asyncio.wait_for(subscriber.queue.get(), 2))
        assert (message["id"], message["title"]) == (kept.id, "committed")
        assert message["author"]["username"] == "committer"
        await asyncio.sleep(0.2)
        assert subscriber.queue.empty()  # the rolled-back post never showed up
    finally:
        realtime.hub.unsubscribe(subscriber)


async def test_drafts_are_not_announced(real_app: FastAPI) -> None:
    realtime: Realtime = real_app.state.realtime
    subscriber = realtime.hub.subscribe()
    try:
        async with real_app.state.db.sessionmaker.begin() as session:
            user = User(username="drafter", email="d@x.org", password_hash="x")
            session.add(user)
            await session.flush()
            assert user.id is not None
            post = Post(author_id=user.id, title="d", body="b", status=PostStatus.draft)
            session.add(post)
            await session.flush()
            await publish_post_created(session, post)
        await asyncio.sleep(0.2)
        assert subscriber.queue.empty()
    finally:
        realtime.hub.unsubscribe(subscriber)


async def test_a_rolled_back_savepoint_takes_its_post_back(real_app: FastAPI) -> None:
    """Bulk writes use savepoints: a post published inside one that rolls back is never sent."""
    realtime: Realtime = real_app.state.realtime
    if realtime.listener is not None:
        await asyncio.wait_for(realtime.listener.connected.wait(), 5)
    subscriber = realtime.hub.subscribe()
    try:
        async with real_app.state.db.sessionmaker.begin() as session:
            user = User(username="bulker", email="b@x.org", password_hash="x")
            session.add(user)
            await session.flush()
            assert user.id is not None
            posts = []
            for title in ("kept", "undone"):
                savepoint = await session.begin_nested()
                post = Post(author_id=user.id, title=title, body="b", status=PostStatus.published)
                post.author = user
                post.tags = []
                session.add(post)
                await session.flush()
                await publish_post_created(session, post)
                if title == "undone":
                    await savepoint.rollback()
                else:
                    await savepoint.commit()
                    posts.append(post)
        message = json.loads(await asyncio.wait_for(subscriber.queue.get(), 2))
        assert (message["id"], message["title"]) == (posts[0].id, "kept")
        await asyncio.sleep(0.2)
        assert subscriber.queue.empty()
    finally:
        realtime.hub.unsubscribe(subscriber)


async def test_bulk_created_published_posts_are_announced(real_app: FastAPI) -> None:
    realtime: Realtime = real_app.state.realtime
    if realtime.listener is not None:
        await asyncio.wait_for(realtime.listener.connected.wait(), 5)
    subscriber = realtime.hub.subscribe()
    try:
        async with AsyncClient(transport=ASGITransport(real_app), base_url="http://t") as client:
            author = (await register(client, "bulk_author")).headers
            items = [
                {"title": f"bulk {i}", "body": "b", "status": "published", "tags": ["x"]}
                for i in range(3)
            ]
            items.append({"title": "bulk draft", "body": "b"})
            response = await client.post(
                "/api/v1/posts/bulk", json={"items": items}, headers=author
            )
        assert response.status_code == 201, response.text
        created = response.json()["created"]
        messages = [json.loads(await asyncio.wait_for(subscriber.queue.get(), 2)) for _ in range(3)]
        assert sorted(m["id"] for m in messages) == sorted(created[:3])
        assert all(m["tags"] == ["x"] for m in messages)
        await asyncio.sleep(0.2)
        assert subscriber.queue.empty()  # not the draft
    finally:
        realtime.hub.unsubscribe(subscriber)
