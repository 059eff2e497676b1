"""The consistency middleware: reads the client's token, emits the new one, and re-runs a
GET/HEAD once on the primary when its replica read failed before anything was sent."""

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.kit.errors import problem
from service.kit.http.asgi import TrackedSend
from service.replication.scope import ReadYourWrites, ReplicaReadFailed
from service.replication.tokens import _HEADER_KEY, COOKIE, TokenCodec, _token_from_headers

log = logging.getLogger("inkwell.consistency")


_SAFE_METHODS = frozenset({"GET", "HEAD"})


class ConsistencyMiddleware:
    """Pure ASGI: reads the client's token, emits the new one, retries failed replica reads."""

    def __init__(self, app: ASGIApp, *, secret: str, secure_cookie: bool, retry_after: int) -> None:
        self.app = app
        self.codec = TokenCodec(secret)
        self.cookie_attributes = "; HttpOnly; SameSite=Lax; Path=/; Max-Age=3600" + (
            "; Secure" if secure_cookie else ""
        )
        self.retry_after = retry_after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _token_from_headers(scope["headers"])
        context = ReadYourWrites.begin(scope, min_lsn=self.codec.decode(token) if token else None)

        def with_token(message: Message) -> Message:
            if context.commit_lsn is not None and message["status"] < 400:
                return self._with_token(message, context.commit_lsn)
            return message

        send_with_token = TrackedSend(send, on_start=with_token)

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

    def _with_token(self, message: Message, lsn: int) -> Message:
        token = self.codec.encode(lsn).encode()
        headers = [
            *message.get("headers", []),
            (_HEADER_KEY, token),
            (b"set-cookie", COOKIE.encode() + b"=" + token + self.cookie_attributes.encode()),
        ]
        return {**message, "headers": headers}


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
