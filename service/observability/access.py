"""The outermost middleware: request id in and out, duration histogram, access log."""

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.observability.context import RequestContext, _context, accept_request_id
from service.observability.metrics import HTTP_DURATION, HTTP_IN_FLIGHT

_ACCESS = logging.getLogger("inkwell.access")


def route_template(scope: Scope) -> str:
    """`/api/v1/posts/{post_id}`, never the raw path (bounded label cardinality).

    FastAPI puts the matched route in the scope with its path relative to the router that
    declared it (`/posts/{post_id}`); the static prefix (`/api/v1`) is what precedes the
    concrete match in the request path.
    """
    template = getattr(scope.get("route"), "path_format", None)
    if not isinstance(template, str):
        return "unmatched"
    path: str = scope.get("path", "")
    params = scope.get("path_params") or {}
    try:
        concrete = template.format_map({k: str(v) for k, v in params.items()})
    except (KeyError, IndexError, ValueError):
        return template
    if concrete and path.endswith(concrete):
        return path[: len(path) - len(concrete)] + template
    return template


_DURATIONS: dict[tuple[str, str, int], Any] = {}


def _duration(method: str, route: str, status: int) -> Any:
    """The duration histogram's child for these labels, bound once (`labels()` takes a lock and
    formats the label values on every call). Routes are templates, so the keys are bounded."""
    key = (method, route, status)
    child = _DURATIONS.get(key)
    if child is None:
        child = _DURATIONS[key] = HTTP_DURATION.labels(
            method=method, route=route, status=str(status)
        )
    return child


class ObservabilityMiddleware:
    """Pure ASGI, outermost: request id in/out, duration histogram, in-flight gauge, access log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        context = RequestContext(accept_request_id(incoming))
        request_id_bytes = context.request_id.encode("ascii")
        token = _context.set(context)
        start = time.perf_counter()
        status = 500
        done = False
        is_http = scope["type"] == "http"
        if is_http:
            HTTP_IN_FLIGHT.inc()

        def finish() -> None:
            nonlocal done
            if done:
                return
            done = True
            elapsed = time.perf_counter() - start
            route = route_template(scope)
            method = scope.get("method", "WS")
            if is_http:
                HTTP_IN_FLIGHT.dec()
                _duration(method, route, status).observe(elapsed)
            _ACCESS.log(
                logging.ERROR if is_http and status >= 500 else logging.INFO,
                "request",
                extra={
                    "method": method,
                    "path": scope.get("path", ""),
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )

        async def send_with_id(message: Message) -> None:
            nonlocal status
            kind = message["type"]
            if kind in ("http.response.start", "websocket.accept"):
                headers = [*message.get("headers", ()), (b"x-request-id", request_id_bytes)]
                message = {**message, "headers": headers}
                status = message.get("status", 101)
            elif kind == "websocket.close":
                status = message.get("code", 1000)
            await send(message)
            if kind == "http.response.body" and not message.get("more_body", False):
                finish()  # background tasks that run later do not count as request time

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            finish()
            _context.reset(token)
