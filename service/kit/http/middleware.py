"""Pure ASGI middleware: request body limit, query-string guard, security headers, CORS.

Pure ASGI (no `BaseHTTPMiddleware`): nothing is buffered, streaming and contextvars keep
working, and the cost per request is a few dict operations.
"""

from collections.abc import Sequence

from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.kit.errors import BadRequest, ContentTooLarge, render
from service.kit.http.asgi import TrackedSend, header
from service.kit.settings import KitSettings

API_CSP = "default-src 'none'; frame-ancestors 'none'"
# Swagger UI and ReDoc are served by the application (service/kit/http/docs.py), scripts from
# files only: 'self' everywhere. Both inject inline styles; ReDoc runs a worker from a blob.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self' blob:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")
HSTS = "max-age=63072000; includeSubDomains"


class BodyTooLarge(HTTPException):
    """Raised from `receive` once a streamed body passes the limit; rendered as problem+json."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes.")


class BodyLimitMiddleware:
    """413 for bodies over `max_bytes`: up front by Content-Length, else while streaming.

    A chunked body (no Content-Length) is counted chunk by chunk as the app reads it; the
    first chunk that crosses the limit raises `BodyTooLarge` inside the app, so the usual
    exception handler renders it and nothing past the limit is ever buffered.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._reject(scope, receive, send)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        tracked = TrackedSend(send)
        try:
            await self.app(scope, limited_receive, tracked)
        except BodyTooLarge:
            # Read outside the exception middleware (e.g. by another middleware).
            if tracked.started:
                raise
            await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        await render(ContentTooLarge.over(self.max_bytes))(scope, receive, send)


QUERY_HAS_NUL = BadRequest("The query string contains a NUL character.")


class QueryStringGuard:
    """400 for a NUL character in the query string: no text column can store one, so any
    string query parameter would otherwise reach the database and fail there as a 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query: bytes = scope.get("query_string", b"") if scope["type"] == "http" else b""
        if b"\x00" in query or b"%00" in query:
            await render(QUERY_HAS_NUL)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response, errors and 500s included.

    Works on the raw header lists (one pass each way): it runs on every response.
    """

    def __init__(self, app: ASGIApp, *, production: bool) -> None:
        self.app = app
        common = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if production:
            common.append((b"strict-transport-security", HSTS.encode()))
        self._api = [*common, (b"content-security-policy", API_CSP.encode())]
        self._docs = [*common, (b"content-security-policy", DOCS_CSP.encode())]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        defaults = self._docs if path.startswith(DOCS_PATHS) else self._api

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [pair for pair in defaults if pair[0] not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


CORS_REQUEST_HEADERS = ("Authorization", "Content-Type", "If-Match", "If-None-Match")
"""The request headers kit itself reads (credentials, bodies, conditional requests)."""
CORS_RESPONSE_HEADERS = ("ETag", "Location", "Retry-After")
"""The response headers kit itself sends that a browser script may read."""


def cors(
    settings: KitSettings,
    *,
    allow_headers: Sequence[str] = (),
    expose_headers: Sequence[str] = (),
) -> list[Middleware]:
    """CORS, only when origins are configured (closed by default): kit's headers plus the ones
    the packages speak (`allow_headers` they read, `expose_headers` they send)."""
    if not settings.cors_origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[*CORS_REQUEST_HEADERS, *allow_headers],
            expose_headers=[*CORS_RESPONSE_HEADERS, *expose_headers],
            max_age=600,
        )
    ]
