"""Adds the consistency token to a claimed key's recorded response, once it is known."""

from typing import Any

from sqlalchemy import update
from sqlmodel import col
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.idempotency.dependency import _STATE_KEY, STORED_HEADERS, _Pending, log
from service.idempotency.models import IdempotencyKey
from service.kit.db.session import own_transaction


class IdempotencyRecorder:
    """The response itself is recorded in the request's transaction (`IdempotentRoute`); the
    consistency token only exists after the COMMIT, so it is added here, before the response
    starts. Best effort: if this fails, a replay is the original answer without a token.
    `token_header` is the replication package's header, handed in by the composition root."""

    def __init__(self, app: ASGIApp, *, token_header: str) -> None:
        self.app = app
        self.token_header = token_header.lower()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})

        async def recording_send(message: Message) -> None:
            pending = state.get(_STATE_KEY)
            if isinstance(pending, _Pending) and message["type"] == "http.response.start":
                await _add_token(pending, message, self.token_header)
            await send(message)

        await self.app(scope, receive, recording_send)


async def _add_token(pending: _Pending, start: Message, token: str) -> None:
    headers = {
        name.decode("latin-1").lower(): value.decode("latin-1")
        for name, value in start.get("headers", [])
    }
    if token not in headers or start["status"] >= 400:
        return
    kept = {name: value for name, value in headers.items() if name in (*STORED_HEADERS, token)}
    statement = (
        update(IdempotencyKey)
        .where(col(IdempotencyKey.id) == pending.record_id)
        .values(response_headers=kept)
    )
    try:
        async with own_transaction(pending.sessionmaker) as session:
            await (await session.connection()).execute(statement)
    except Exception:
        log.warning("could not add the consistency token to an idempotent response's record")
