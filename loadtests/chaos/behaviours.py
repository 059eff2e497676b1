"""What each kind of client does until the run stops; every step goes through `Context.call`."""

import asyncio
import contextlib
import json

from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from loadtests.chaos.clients import (
    API,
    TOKEN,
    Client,
    Context,
    Known,
    create_post,
    read_with_token,
)
from loadtests.chaos.history import now

PAUSE = (0.05, 0.3)
"""Seconds between two operations of one client: a modest load on a 2-core machine."""


async def _pause(ctx: Context) -> None:
    await asyncio.sleep(ctx.rng.uniform(*PAUSE))


async def writer(ctx: Context, client: Client) -> None:
    """Publishes posts (Idempotency-Key, retried) and reads each back with its token."""
    while not ctx.stopping.is_set():
        known = await create_post(ctx, client)
        if known is not None:
            await read_with_token(ctx, client, known, "read_own")
        await _pause(ctx)


async def liker(ctx: Context, client: Client) -> None:
    """Likes and unlikes random acknowledged posts (no retries: a failure leaves it unknown)."""
    while not ctx.stopping.is_set():
        if ctx.known:
            post = ctx.rng.choice(list(ctx.known))
            liked = ctx.rng.random() < 0.6
            method, op = ("PUT", "like") if liked else ("DELETE", "unlike")
            await ctx.call(
                client, op, method, f"{API}/posts/{post}/like", headers=client.auth, post=post
            )
        await _pause(ctx)


async def follower(ctx: Context, client: Client, authors: list[int]) -> None:
    """Follows the writers again (idempotent) and reads its unread notification count."""
    while not ctx.stopping.is_set():
        author = ctx.rng.choice(authors)
        await ctx.call(
            client,
            "follow",
            "PUT",
            f"{API}/users/{author}/follow",
            headers=client.auth,
            followee=author,
        )
        await ctx.call(
            client,
            "unread",
            "GET",
            f"{API}/users/me/notifications/unread_count",
            headers=client.auth,
        )
        await _pause(ctx)


async def editor(ctx: Context, client: Client, post: Known) -> None:
    """Reads its own post with its last token, then PATCHes it with If-Match."""
    while not ctx.stopping.is_set():
        status, answer, headers = await read_with_token(ctx, client, post, "read_edit")
        etag = headers.get("ETag")
        if status == 200 and etag:
            patch = {"body": f"edited at {now():.3f}"}
            status, answer, headers = await ctx.call(
                client,
                "edit",
                "PATCH",
                f"{API}/posts/{post.post_id}",
                headers=client.auth | {"If-Match": etag},
                body=patch,
                post=post.post_id,
                if_match_version=answer.get("version"),
            )
            if status == 200:
                post.token, post.version = headers.get(TOKEN), int(answer["version"])
                ctx.known[post.post_id] = Known(post.post_id, post.token, post.version)
        await _pause(ctx)


async def reader(ctx: Context, client: Client) -> None:
    """Reads others' posts with the token of their last write, and the public listing."""
    while not ctx.stopping.is_set():
        if ctx.known:
            known = ctx.known[ctx.rng.choice(list(ctx.known))]
            await read_with_token(ctx, client, Known(known.post_id, known.token, known.version))
        await ctx.call(client, "list", "GET", f"{API}/posts?limit=20")
        await _pause(ctx)


async def feed(ctx: Context, client: Client) -> None:
    """The feed from event 0, resumed with `?after=<last>` on the other instance after a close."""
    last = 0
    while not ctx.feed_stop.is_set():
        url = ctx.apps[client.instance].replace("http", "ws", 1)
        start = now()
        code: int | None = None
        try:
            async with connect(f"{url}{API}/ws/posts?after={last}", open_timeout=5) as socket:
                ctx.history.append("feed_open", client=client.name, after=last, at=start)
                while not ctx.feed_stop.is_set():
                    try:
                        message = await asyncio.wait_for(socket.recv(), 0.5)
                    except TimeoutError:
                        continue
                    frame = json.loads(message)
                    if frame.get("type") == "gap":
                        ctx.history.append("gap", client=client.name, after=last, at=now())
                        continue
                    last = int(frame["event_id"])
                    ctx.feed_last[client.name] = last
                    ctx.history.append(
                        "frame", client=client.name, event=last, post=frame["post"]["id"], at=now()
                    )
        except (OSError, TimeoutError, WebSocketException) as exc:
            code = getattr(getattr(exc, "rcvd", None), "code", None)
            ctx.history.append(
                "feed_closed", client=client.name, code=code, error=type(exc).__name__, at=now()
            )
            client.instance = 1 - client.instance
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ctx.feed_stop.wait(), 0.3)
