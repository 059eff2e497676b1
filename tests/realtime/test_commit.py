"""A published post reaches the feed, and followers, only if its transaction commits (both
backends)."""

import asyncio
import json

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from service.database.session import own_transaction
from service.follows.models import Follow
from service.jobs.outbox import OUTBOX
from service.jobs.worker import JOBS
from service.posts.events import PostPublished, Publisher
from service.posts.models import Post, PostStatus
from service.realtime.runtime import Realtime
from service.users.models import User
from tests.support.api import register


class Abort(Exception):
    pass


def publisher_of(app: FastAPI) -> Publisher:
    """The hook point as the posts service reaches it."""
    return Publisher(OUTBOX.of(app))


async def add_user(app: FastAPI, name: str) -> int:
    async with own_transaction(app.state.db.sessionmaker) as session:
        user = User(username=name, email=f"{name}@x.org", password_hash="x")
        session.add(user)
        await session.flush()
        assert user.id is not None
        return user.id


async def publish(session: AsyncSession, publisher: Publisher, author_id: int, title: str) -> Post:
    post = Post(author_id=author_id, title=title, slug=title, body="b", status=PostStatus.published)
    session.add(post)
    await session.flush()
    assert post.id is not None
    await publisher.published(session, [PostPublished(post.id, author_id)])
    return post


async def test_feed_sees_committed_posts_never_rolled_back_ones(real_app: FastAPI) -> None:
    realtime: Realtime = real_app.state.realtime
    if realtime.listener is not None:
        await asyncio.wait_for(realtime.listener.connected.wait(), 5)
    subscriber = realtime.hub.subscribe()
    publisher = publisher_of(real_app)
    try:
        user_id = await add_user(real_app, "committer")

        async def write(title: str) -> Post:
            async with own_transaction(real_app.state.db.sessionmaker) as session:
                post = await publish(session, publisher, user_id, title)
                if title == "rolled-back":
                    raise Abort
            return post

        with pytest.raises(Abort):
            await write("rolled-back")
        kept = await write("committed")

        message = json.loads((await asyncio.wait_for(subscriber.queue.get(), 2)).text)["post"]
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
        async with AsyncClient(transport=ASGITransport(real_app), base_url="http://t") as client:
            author = (await register(client, "drafter")).headers
            draft = await client.post(
                "/api/v1/posts", json={"title": "d", "body": "b"}, headers=author
            )
        assert draft.status_code == 201, draft.text
        await asyncio.sleep(0.2)
        assert subscriber.queue.empty()
    finally:
        realtime.hub.unsubscribe(subscriber)


async def test_a_rolled_back_savepoint_takes_its_post_back(
    real_app: FastAPI, observer: AsyncEngine
) -> None:
    """Bulk writes use savepoints: a post published inside one that rolls back is neither
    announced nor fanned out to followers."""
    realtime: Realtime = real_app.state.realtime
    if realtime.listener is not None:
        await asyncio.wait_for(realtime.listener.connected.wait(), 5)
    subscriber = realtime.hub.subscribe()
    publisher = publisher_of(real_app)
    try:
        author_id = await add_user(real_app, "bulker")
        follower_id = await add_user(real_app, "watcher")
        async with own_transaction(real_app.state.db.sessionmaker) as session:
            session.add(Follow(follower_id=follower_id, followee_id=author_id))
            kept = []
            for title in ("kept", "undone"):
                savepoint = await session.begin_nested()
                post = await publish(session, publisher, author_id, title)
                if title == "undone":
                    await savepoint.rollback()
                else:
                    await savepoint.commit()
                    kept.append(post.id)
        message = json.loads((await asyncio.wait_for(subscriber.queue.get(), 2)).text)["post"]
        assert (message["id"], message["title"]) == (kept[0], "kept")
        await asyncio.sleep(0.2)
        assert subscriber.queue.empty()
        await JOBS.of(real_app).drain()
        async with observer.connect() as other:
            rows = await other.execute(text("SELECT user_id, post_id FROM notifications"))
            assert [tuple(row) for row in rows] == [(follower_id, kept[0])]
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
        frames = [await asyncio.wait_for(subscriber.queue.get(), 2) for _ in range(3)]
        messages = [json.loads(frame.text)["post"] for frame in frames]
        assert [f.event_id for f in frames] == sorted(f.event_id for f in frames)
        assert sorted(m["id"] for m in messages) == sorted(created[:3])
        assert all(m["tags"] == ["x"] for m in messages)
        await asyncio.sleep(0.2)
        assert subscriber.queue.empty()  # not the draft
    finally:
        realtime.hub.unsubscribe(subscriber)
