"""Records the response of a request that claimed an Idempotency-Key."""

from typing import Any

from sqlalchemy import update
from sqlmodel import col
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.idempotency.dependency import (
    _STATE_KEY,
    STORED_HEADERS,
    _Pending,
    log,
)
from service.idempotency.models import IdempotencyKey
from service.kit.db.session import own_transaction


class IdempotencyRecorder:
    """Stores the response of a request that claimed a key, before the response is sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        start: Message | None = None
        chunks: list[bytes] = []

        async def recording_send(message: Message) -> None:
            nonlocal start
            pending = state.get(_STATE_KEY)
            if not isinstance(pending, _Pending):
                await send(message)
                return
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                assert start is not None
                await _record(pending, start, b"".join(chunks))
                await send(start)
                await send({"type": "http.response.body", "body": b"".join(chunks)})
                return
            await send(message)

        await self.app(scope, receive, recording_send)


async def _record(pending: _Pending, start: Message, body: bytes) -> None:
    headers = {
        name.decode("latin-1").lower(): value.decode("latin-1")
        for name, value in start.get("headers", [])
    }
    kept = {name: value for name, value in headers.items() if name in STORED_HEADERS}
    statement = (
        update(IdempotencyKey)
        .where(col(IdempotencyKey.id) == pending.record_id)
        .values(status_code=start["status"], response_headers=kept, response_body=body)
    )
    try:
        async with own_transaction(pending.sessionmaker) as session:
            await session.exec(statement)
    except Exception:
        # The work is committed; a retry will get 409 until the key expires.
        log.exception("could not record the response of an idempotent request")
