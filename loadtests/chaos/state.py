"""The final database as the checker needs it: posts, likes, follows, notifications, the outbox."""

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url


@dataclass(frozen=True)
class PostRow:
    id: int
    title: str
    author_id: int
    published: bool
    version: int
    like_count: int


@dataclass
class Snapshot:
    posts: dict[int, PostRow] = field(default_factory=dict)
    likes: set[tuple[int, int]] = field(default_factory=set)
    """(post_id, user_id)"""
    follows: set[tuple[int, int]] = field(default_factory=set)
    """(follower_id, followee_id)"""
    notifications: Counter[tuple[int, int]] = field(default_factory=Counter)
    """(user_id, post_id) of `post.published` notifications, counted"""
    published_events: dict[int, list[int]] = field(default_factory=dict)
    """post_id: the ids of its `post.published` outbox events"""
    undone_events: int = 0


def connect_args(url: str) -> dict[str, Any]:
    """asyncpg's arguments for a SQLAlchemy URL, one host or many (`?host=h:p&host=...`)."""
    parsed = make_url(url)
    given = parsed.query.get("host")
    args: dict[str, Any] = {"user": parsed.username, "database": parsed.database, "timeout": 10}
    if parsed.password:
        args["password"] = parsed.password
    if given:
        hosts = [h.rsplit(":", 1) for h in ([given] if isinstance(given, str) else given)]
        args |= {"host": [h for h, _ in hosts], "port": [int(p) for _, p in hosts]}
        args["target_session_attrs"] = parsed.query.get("target_session_attrs", "read-write")
    else:
        args |= {"host": parsed.host or "127.0.0.1", "port": parsed.port or 5432}
    return args


async def undone_events(url: str) -> int:
    """Outbox events not done yet (pending or leased)."""
    connection = await asyncpg.connect(**connect_args(url))
    try:
        return int(
            await connection.fetchval("SELECT count(*) FROM outbox_events WHERE state = 'pending'")
        )
    finally:
        await connection.close()


async def wait_drained(url: str, within: float = 120.0) -> int:
    """Until the worker has done every event (or `within` seconds); the number still undone."""
    deadline = time.monotonic() + within
    while True:
        left = await undone_events(url)
        if not left or time.monotonic() > deadline:
            return left
        await asyncio.sleep(0.5)


async def load(url: str) -> Snapshot:
    connection = await asyncpg.connect(**connect_args(url))
    try:
        snapshot = Snapshot()
        for row in await connection.fetch(
            "SELECT id, title, author_id, status = 'published' AND deleted_at IS NULL AS shown,"
            " version, like_count FROM posts"
        ):
            snapshot.posts[row["id"]] = PostRow(
                row["id"],
                row["title"],
                row["author_id"],
                row["shown"],
                row["version"],
                row["like_count"],
            )
        snapshot.likes = {
            (r["post_id"], r["user_id"])
            for r in await connection.fetch("SELECT post_id, user_id FROM post_likes")
        }
        snapshot.follows = {
            (r["follower_id"], r["followee_id"])
            for r in await connection.fetch("SELECT follower_id, followee_id FROM follows")
        }
        for r in await connection.fetch(
            "SELECT user_id, post_id, count(*) AS n FROM notifications"
            " WHERE type = 'post.published' GROUP BY user_id, post_id"
        ):
            snapshot.notifications[(r["user_id"], r["post_id"])] = r["n"]
        for r in await connection.fetch(
            "SELECT id, (payload->>'post_id')::bigint AS post_id FROM outbox_events"
            " WHERE topic = 'post.published' ORDER BY id"
        ):
            snapshot.published_events.setdefault(r["post_id"], []).append(r["id"])
        snapshot.undone_events = int(
            await connection.fetchval("SELECT count(*) FROM outbox_events WHERE state = 'pending'")
        )
        return snapshot
    finally:
        await connection.close()
