"""The consistency middleware: reads the client's token (a write's response carries the new
one: service/replication/routing.py), and re-runs a GET/HEAD once on the primary when its
replica read failed before anything was sent."""

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.kit.errors import problem
from service.kit.http.asgi import TrackedSend
from service.replication.scope import ReadYourWrites, ReplicaReadFailed
from service.replication.tokens import TokenCodec, _token_from_headers

log = logging.getLogger("inkwell.consistency")


_SAFE_METHODS = frozenset({"GET", "HEAD"})


class ConsistencyMiddleware:
    """Pure ASGI: reads the client's token, retries failed replica reads."""

    def __init__(self, app: ASGIApp, *, secret: str, retry_after: int) -> None:
        self.app = app
        self.codec = TokenCodec(secret)
        self.retry_after = retry_after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _token_from_headers(scope["headers"])
        context = ReadYourWrites.begin(scope, min_lsn=self.codec.decode(token) if token else None)
        send_with_token = TrackedSend(send)

        if scope["method"] not in _SAFE_METHODS:
            # never re-run an unsafe request: a replica read failing there is a plain 503
            try:
                await self.app(scope, receive, send_with_token)
            except ReplicaReadFailed:
                if send_with_token.started:
                    raise
                await self._unavailable(scope, receive, send)
            return
        replay = _ReplayableReceive(receive)
        try:
            await self.app(scope, replay, send_with_token)
        except ReplicaReadFailed as failure:
            if send_with_token.started:
                raise
            log.info("replica read failed (%s); retrying on the primary", failure.__cause__)
            context.force_primary = True
            try:
                await self.app(scope, replay.replay, send_with_token)
            except ReplicaReadFailed:  # cannot happen on the primary; never a 500 if it does
                if send_with_token.started:
                    raise
                await self._unavailable(scope, receive, send)

    async def _unavailable(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            503,
            "Service Unavailable",
            "The database is unavailable.",
            slug="unavailable",
            headers={"Retry-After": str(self.retry_after)},
        )
        await response(scope, receive, send)


class _ReplayableReceive:
    """Records the request messages so a retried GET/HEAD sees the same body again."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._seen: list[Message] = []

    async def __call__(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self._seen.append(message)
        return message

    @property
    def replay(self) -> Callable[[], Awaitable[Any]]:
        pending = list(self._seen)

        async def receive() -> Message:
            if pending:
                return pending.pop(0)
            return await self._receive()

        return receive
