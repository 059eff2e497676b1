"""Structured logs, request ids and Prometheus metrics (HTTP, pool, queries, routing, realtime).

Logging is the standard library with a JSON formatter: no extra dependency, and uvicorn's,
SQLAlchemy's and our own loggers all flow through the same root handler. Metrics use
prometheus-client; with PROMETHEUS_MULTIPROC_DIR set (several uvicorn workers) every worker
writes its samples to that directory and `/metrics` aggregates them.
"""

import json
import logging
import os
import re
import sys
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, FastAPI
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import AsyncAdaptedQueuePool, Pool, QueuePool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.core.settings import Settings

_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_ACCESS = logging.getLogger("inkwell.access")
_SLOW = logging.getLogger("inkwell.db.slow")

# --------------------------------------------------------------------------- request context


@dataclass
class RequestContext:
    """Mutable on purpose: dependencies fill `user_id` even from a copied context."""

    request_id: str
    user_id: int | None = None


_context: ContextVar[RequestContext | None] = ContextVar("inkwell_request", default=None)


def current_request_id() -> str | None:
    context = _context.get()
    return context.request_id if context else None


@contextmanager
def request_context(request_id: str | None) -> Iterator[None]:
    """Log as part of request `request_id` (for work that outlives the request's context)."""
    token = _context.set(RequestContext(request_id or uuid.uuid4().hex))
    try:
        yield
    finally:
        _context.reset(token)


def bind_user(user_id: int | None) -> None:
    """Called by the auth dependency so the access log line carries the user id."""
    context = _context.get()
    if context is not None:
        context.user_id = user_id


def accept_request_id(value: str | None) -> str:
    """The client's id when it is short and of a safe charset, else a fresh one."""
    if value is not None and _REQUEST_ID_RE.fullmatch(value):
        return value
    return uuid.uuid4().hex


# --------------------------------------------------------------------------- logging

_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


_base_factory = logging.getLogRecordFactory()


def _record_with_context(*args: Any, **kwargs: Any) -> logging.LogRecord:
    """Every record created inside a request carries its id (and user id once known)."""
    record = _base_factory(*args, **kwargs)
    context = _context.get()
    if context is not None:
        record.request_id = context.request_id
        if context.user_id is not None:
            record.user_id = context.user_id
    return record


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        k: v for k, v in record.__dict__.items() if k not in _RESERVED and not k.startswith("_")
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, then the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(_extras(record))
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, separators=(",", ":"))


class ConsoleFormatter(logging.Formatter):
    """Human-readable lines for `make run`: time level logger message key=value..."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        text = f"{stamp} {record.levelname:<7} {record.name}: {record.getMessage()} {extras}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text.rstrip()


class _InkwellHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marker class so that reconfiguring replaces our handler and leaves others alone."""


def log_format(settings: Settings) -> Literal["json", "console"]:
    if settings.log_format != "auto":
        return settings.log_format
    return "console" if settings.environment == "development" else "json"


def configure_logging(settings: Settings) -> None:
    """Idempotent: one stderr handler on the root logger; uvicorn's loggers propagate to it."""
    logging.setLogRecordFactory(_record_with_context)
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _InkwellHandler)]:
        root.removeHandler(handler)
    handler = _InkwellHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format(settings) == "json" else ConsoleFormatter())
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # Our access line replaces uvicorn's; pool life-cycle chatter stays out of INFO.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    if not settings.db_echo:
        logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
        logging.getLogger(f"{__name__}.InstrumentedAsyncQueuePool").setLevel(logging.WARNING)


# --------------------------------------------------------------------------- metrics

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "HTTP request duration (until the last body byte is sent)",
    ["method", "route", "status"],
)
HTTP_IN_FLIGHT = Gauge(
    "http_requests_in_flight", "HTTP requests being served", multiprocess_mode="livesum"
)
POOL_SIZE = Gauge("db_pool_size", "Configured pool size", ["role"], multiprocess_mode="livesum")
POOL_CHECKED_OUT = Gauge(
    "db_pool_checked_out", "Connections checked out", ["role"], multiprocess_mode="livesum"
)
POOL_OVERFLOW = Gauge(
    "db_pool_overflow",
    "Connections beyond pool_size (negative: unopened pool slots)",
    ["role"],
    multiprocess_mode="livesum",
)
POOL_WAIT = Histogram(
    "db_pool_wait_seconds",
    "Time to obtain a pooled connection (queue wait plus connect)",
    ["role"],
    buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0),
)
QUERY_DURATION = Histogram(
    "db_query_duration_seconds",
    "SQL statement duration (cursor execute)",
    ["role"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
DB_ROUTE = Counter("db_route", "Sessions routed, by target database", ["target"])
REALTIME_CLIENTS = Gauge(
    "realtime_clients", "Connected websocket clients", multiprocess_mode="livesum"
)
REALTIME_MESSAGES = Counter("realtime_messages", "Messages queued to websocket clients")
REALTIME_DROPPED = Counter(
    "realtime_dropped_clients", "Websocket clients disconnected for being too slow"
)
REALTIME_LISTENING = Gauge(
    "realtime_listener_up",
    "1 while the LISTEN connection is established",
    multiprocess_mode="livesum",
)
REALTIME_RECONNECTS = Counter(
    "realtime_listener_reconnects", "LISTEN connection (re)connections after a failure"
)
BACKGROUND_FAILURES = Counter("background_task_failures", "Background tasks that raised", ["task"])


def record_route(target: Literal["primary", "replica"]) -> None:
    """Count one routing decision (called by the read-replica router)."""
    DB_ROUTE.labels(target=target).inc()


def render_metrics() -> tuple[bytes, str]:
    _sample_all_pools()
    if MULTIPROCESS:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def mark_process_dead() -> None:
    """Drop this worker's live gauges from the multiprocess directory (at shutdown)."""
    if MULTIPROCESS:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


metrics_router = APIRouter(tags=["operations"])


@metrics_router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    body, content_type = render_metrics()
    return Response(body, media_type=content_type)


# --------------------------------------------------------------------------- database


class InstrumentedAsyncQueuePool(AsyncAdaptedQueuePool):
    """Times every checkout: how long a request waited for a connection."""

    inkwell_role = "primary"

    def _do_get(self) -> Any:
        start = time.perf_counter()
        try:
            return super()._do_get()
        finally:
            POOL_WAIT.labels(role=self.inkwell_role).observe(time.perf_counter() - start)


_pools: "weakref.WeakKeyDictionary[AsyncEngine, str]" = weakref.WeakKeyDictionary()


def _sample_pool(pool: Pool, role: str) -> None:
    if isinstance(pool, QueuePool):
        POOL_SIZE.labels(role=role).set(pool.size())
        POOL_CHECKED_OUT.labels(role=role).set(pool.checkedout())
        POOL_OVERFLOW.labels(role=role).set(pool.overflow())


def _sample_all_pools() -> None:
    for engine, role in list(_pools.items()):
        _sample_pool(engine.pool, role)


def instrument_engine(engine: AsyncEngine, settings: Settings, *, role: str) -> None:
    """Query timing + slow-query log, pool gauges and checkout wait for one engine."""
    _pools[engine] = role
    pool = engine.pool
    if isinstance(pool, InstrumentedAsyncQueuePool):
        pool.inkwell_role = role
    sync_engine = engine.sync_engine
    slow_seconds = settings.db_slow_query_ms / 1000
    query_seconds = QUERY_DURATION.labels(role=role)

    # The start time lives on the execution context (one per statement), so a failing statement
    # leaves nothing behind and no error hook is needed.
    @event.listens_for(sync_engine, "before_cursor_execute")
    def _before(
        conn: Connection, cursor: Any, statement: str, params: Any, ctx: Any, many: bool
    ) -> None:
        if ctx is not None:
            ctx._inkwell_start = time.perf_counter()

    @event.listens_for(sync_engine, "after_cursor_execute")
    def _after(
        conn: Connection, cursor: Any, statement: str, params: Any, ctx: Any, many: bool
    ) -> None:
        started: float | None = getattr(ctx, "_inkwell_start", None)
        if started is None:
            return
        elapsed = time.perf_counter() - started
        query_seconds.observe(elapsed)
        if elapsed >= slow_seconds:
            _SLOW.warning(
                "slow query",
                extra={
                    "statement": statement[:2000],  # the SQL text only, never the parameters
                    "duration_ms": round(elapsed * 1000, 2),
                    "role": role,
                },
            )

    def _on_pool_event(*_: Any) -> None:
        _sample_pool(engine.pool, role)

    for name in ("checkout", "checkin", "connect", "close"):
        event.listen(sync_engine.pool, name, _on_pool_event)


# --------------------------------------------------------------------------- middleware


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
                HTTP_DURATION.labels(method=method, route=route, status=str(status)).observe(
                    elapsed
                )
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


def install_observability(app: FastAPI, settings: Settings) -> None:
    """Logging, the outermost middleware (so 413s and 500s carry the id too) and /metrics."""
    configure_logging(settings)
    build: Callable[[], ASGIApp] = app.build_middleware_stack

    def build_with_observability() -> ASGIApp:
        return ObservabilityMiddleware(build())

    app.build_middleware_stack = build_with_observability  # type: ignore[method-assign]
    app.include_router(metrics_router)
