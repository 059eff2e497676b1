"""`WS /api/v1/ws/posts`: every newly published post, as `PostPublic` JSON text frames."""

import asyncio
import contextlib

from fastapi import APIRouter, WebSocket

from service.realtime.hub import Subscriber
from service.realtime.runtime import Realtime

router = APIRouter(tags=["realtime"])

CLOSE_TIMEOUT_SECONDS = 2.0
"""A client too slow to even take the close frame is cut off after this."""


@router.websocket("/ws/posts")
async def posts_feed(websocket: WebSocket) -> None:
    realtime: Realtime = websocket.app.state.realtime
    await websocket.accept()
    subscriber = realtime.hub.subscribe()
    try:
        await _serve(websocket, subscriber)
    finally:
        realtime.hub.unsubscribe(subscriber)


async def _serve(websocket: WebSocket, subscriber: Subscriber) -> None:
    sender = asyncio.create_task(_send(websocket, subscriber))
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


async def _send(websocket: WebSocket, subscriber: Subscriber) -> None:
    while True:
        await websocket.send_text(await subscriber.queue.get())


async def _receive(websocket: WebSocket) -> None:
    """Clients send nothing; reading notices their disconnect (and answers pings)."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass
