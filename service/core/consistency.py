"""Read-your-writes: consistency tokens (signed primary WAL positions) and their ASGI middleware.

After a committed write the session dependency stores the primary's `pg_current_wal_lsn()` in
the ASGI scope; this middleware hands it to the client as the `X-Consistency-Token` header and
the `consistency_token` cookie. A later request sending either back gets its LSN in the scope,
and the read routing only uses a replica whose replay position has reached it.

The same middleware re-runs a safe request (GET/HEAD) once on the primary when its replica read
failed with a recovery conflict or a lost connection, before anything was sent.
"""

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.core.errors import problem

log = logging.getLogger("inkwell.consistency")

HEADER = "X-Consistency-Token"
COOKIE = "consistency_token"
_HEADER_KEY = HEADER.lower().encode()

MIN_LSN = "inkwell.min_lsn"
"""Scope key: the LSN a read must see (from the client's token), or absent."""
COMMIT_LSN = "inkwell.commit_lsn"
"""Scope key: the primary's LSN after this request's committed write."""
FORCE_PRIMARY = "inkwell.force_primary"
"""Scope key: set on the retry of a failed replica read."""

_SAFE_METHODS = frozenset({"GET", "HEAD"})
_MAX_TOKEN = 64


class ReplicaReadFailed(Exception):
    """A read on a replica failed in a way the primary can absorb (recovery conflict, lost link).

    Deliberately not a SQLAlchemyError: it passes the exception handlers and reaches the
    middleware, which retries the request on the primary.
    """


class TokenCodec:
    """`<lsn hex>.<mac>`: HMAC-SHA256 truncated to 64 bits, so clients cannot forge positions."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"inkwell-consistency-token:" + secret.encode()).digest()

    def _mac(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()[:16]

    def encode(self, lsn: int) -> str:
        body = f"{lsn:x}"
        return f"{body}.{self._mac(body)}"

    def decode(self, token: str) -> int | None:
        """The LSN of a valid token; None for anything malformed or forged (it is ignored)."""
        if len(token) > _MAX_TOKEN:
            return None
        body, sep, mac = token.partition(".")
        if not sep or not body or not hmac.compare_digest(mac, self._mac(body)):
            return None
        try:
            return int(body, 16)
        except ValueError:
            return None


def _token_from_headers(headers: list[tuple[bytes, bytes]]) -> str | None:
    cookie_token = None
    for key, value in headers:
        if key == _HEADER_KEY:
            return value.decode("latin-1").strip()
        if key == b"cookie" and cookie_token is None:
            for part in value.decode("latin-1").split(";"):
                name, sep, found = part.strip().partition("=")
                if sep and name == COOKIE:
                    cookie_token = found.strip().strip('"')
                    break
    return cookie_token


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
        if token:
            lsn = self.codec.decode(token)
            if lsn is not None:
                scope[MIN_LSN] = lsn
        started = False

        async def send_with_token(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                lsn = scope.get(COMMIT_LSN)
                if lsn is not None and message["status"] < 400:
                    message = self._with_token(message, lsn)
            await send(message)

        if scope["method"] not in _SAFE_METHODS:
            # never re-run an unsafe request: a replica read failing there is a plain 503
            try:
                await self.app(scope, receive, send_with_token)
            except ReplicaReadFailed:
                if started:
                    raise
                await self._unavailable(scope, receive, send)
            return
        replay = _ReplayableReceive(receive)
        try:
            await self.app(scope, replay, send_with_token)
        except ReplicaReadFailed as failure:
            if started:
                raise
            log.info("replica read failed (%s); retrying on the primary", failure.__cause__)
            scope[FORCE_PRIMARY] = True
            try:
                await self.app(scope, replay.replay, send_with_token)
            except ReplicaReadFailed:  # cannot happen on the primary; never a 500 if it does
                if started:
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
