"""`WS /api/v1/ws/posts[?after=<event_id>]`: the feed of published posts, resumable.

Frames are `{"event_id", "type": "post.published", "post": {...}}` in event order. With
`after`, the events after it are replayed from the outbox first, then the live feed follows;
the client is subscribed to the live feed BEFORE the replay reads storage, and live frames at
or below the last replayed id are dropped, so nothing is lost or repeated at the seam.
"""

import asyncio
import contextlib
from typing import Annotated

from fastapi import APIRouter, Query, WebSocket

from service.kit.http.routing import Route
from service.kit.schemas import MAX_BIGINT
from service.realtime.feed import replay
from service.realtime.hub import CLOSE_TRY_AGAIN_LATER, Subscriber
from service.realtime.runtime import REALTIME, Realtime

router = APIRouter(tags=["realtime"], route_class=Route)

CLOSE_TIMEOUT_SECONDS = 2.0
"""A client too slow to even take the close frame is cut off after this."""


@router.websocket("/ws/posts")
async def posts_feed(
    websocket: WebSocket, after: Annotated[int | None, Query(ge=0, le=MAX_BIGINT)] = None
) -> None:
    realtime = REALTIME.of(websocket)
    await websocket.accept()
    if realtime.full:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CLOSE_TIMEOUT_SECONDS):
                await websocket.close(CLOSE_TRY_AGAIN_LATER, "server full: try again later")
        return
    subscriber = realtime.hub.subscribe()
    try:
        await _serve(websocket, subscriber, realtime, after)
    finally:
        realtime.hub.unsubscribe(subscriber)


async def _serve(
    websocket: WebSocket, subscriber: Subscriber, realtime: Realtime, after: int | None
) -> None:
    sender = asyncio.create_task(_send(websocket, subscriber, realtime, after))
    receiver = asyncio.create_task(_receive(websocket))
    closer = asyncio.create_task(subscriber.closed.wait())
    done, pending = await asyncio.wait(
        {sender, receiver, closer}, return_when=asyncio.FIRST_COMPLETED
    )
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        if task is not closer and not task.cancelled():
            task.exception()  # a send to a vanished client: nothing to report
    if subscriber.close_code is not None and receiver not in done:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CLOSE_TIMEOUT_SECONDS):
                await websocket.close(subscriber.close_code, subscriber.close_reason)


async def _send(
    websocket: WebSocket, subscriber: Subscriber, realtime: Realtime, after: int | None
) -> None:
    seen = -1
    if after is not None:
        seen = after
        async for frame in replay(realtime.sessionmaker, after):
            await websocket.send_text(frame.text)
            # after a gap, whatever comes next is news (the id may never have been issued)
            seen = -1 if frame.event_id < 0 else max(seen, frame.event_id)
    while True:
        frame = await subscriber.queue.get()
        if frame.event_id > seen:
            await websocket.send_text(frame.text)
            seen = frame.event_id


async def _receive(websocket: WebSocket) -> None:
    """Clients send nothing; reading notices their disconnect (and answers pings)."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass
