"""Prometheus metrics: HTTP, connection pools, queries; `/metrics` (multiprocess aware)."""

import logging
import os
import time
import weakref
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
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

from service.kit.http.routing import Route
from service.observability.settings import ObservabilitySettings

_SLOW = logging.getLogger("inkwell.db.slow")


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


BACKGROUND_FAILURES = Counter("background_task_failures", "Background tasks that raised", ["task"])


POOL_SAMPLE_SECONDS = 0.25
"""How stale a busy pool's gauges may be in a worker that is not the one scraped."""


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


metrics_router = APIRouter(tags=["operations"], route_class=Route)

METRICS = """\
## Metrics: `GET /metrics`
Prometheus text exposition (`text/plain; version=0.0.4`), not part of the JSON API: request
durations by route and status (`http_request_duration_seconds`), requests in flight, database
pool size, use and wait (`db_pool_*`), statement durations, jobs (`jobs_*`), websocket clients
and messages (`realtime_*`). With several worker processes set `PROMETHEUS_MULTIPROC_DIR`.
Scrape it from inside your network; it is not meant for the public.
"""


@metrics_router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    body, content_type = render_metrics()
    return Response(body, media_type=content_type)


class InstrumentedAsyncQueuePool(AsyncAdaptedQueuePool):
    """Times every checkout: how long a request waited for a connection."""

    inkwell_wait: Any = None
    """The role's wait histogram, bound by `instrument_engine`."""

    def _do_get(self) -> Any:
        start = time.perf_counter()
        try:
            return super()._do_get()
        finally:
            wait = self.inkwell_wait or POOL_WAIT.labels(role="primary")
            wait.observe(time.perf_counter() - start)


_pools: "weakref.WeakKeyDictionary[AsyncEngine, str]" = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class _PoolGauges:
    """One role's pool gauges, bound once (`labels()` takes a lock and a dict look-up)."""

    size: Any
    checked_out: Any
    overflow: Any

    @classmethod
    def of(cls, role: str) -> "_PoolGauges":
        return cls(
            POOL_SIZE.labels(role=role),
            POOL_CHECKED_OUT.labels(role=role),
            POOL_OVERFLOW.labels(role=role),
        )

    def sample(self, pool: Pool) -> None:
        if isinstance(pool, QueuePool):
            self.size.set(pool.size())
            self.checked_out.set(pool.checkedout())
            self.overflow.set(pool.overflow())


def forget_engine(engine: AsyncEngine) -> None:
    """A disposed engine's pool is no longer reported (its app has shut down)."""
    _pools.pop(engine, None)


def _sample_all_pools() -> None:
    for engine, role in list(_pools.items()):
        _PoolGauges.of(role).sample(engine.pool)


@dataclass(frozen=True)
class QueryTimer:
    """Statement duration histogram and slow-query log of one engine's role."""

    role: str
    histogram: Any
    slow_seconds: float

    def observe(self, statement: str, elapsed: float) -> None:
        self.histogram.observe(elapsed)
        if elapsed >= self.slow_seconds:
            _SLOW.warning(
                "slow query",
                extra={
                    "statement": statement[:2000],  # the SQL text only, never the parameters
                    "duration_ms": round(elapsed * 1000, 2),
                    "role": self.role,
                },
            )


def instrument_engine(engine: AsyncEngine, settings: ObservabilitySettings, *, role: str) -> None:
    """Query timing + slow-query log, pool gauges and checkout wait for one engine."""
    _pools[engine] = role
    pool = engine.pool
    if isinstance(pool, InstrumentedAsyncQueuePool):
        pool.inkwell_wait = POOL_WAIT.labels(role=role)
    sync_engine = engine.sync_engine
    timer = QueryTimer(role, QUERY_DURATION.labels(role=role), settings.db_slow_query_ms / 1000)

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
        if started is not None:
            timer.observe(statement, time.perf_counter() - started)

    gauges = _PoolGauges.of(role)
    sampled_at = 0.0

    def _on_pool_event(*_: Any) -> None:
        # Three gauge writes (a lock each, an mmap write in multiprocess mode) on every checkout
        # and checkin cost too much on a hot read: sample at most every POOL_SAMPLE_SECONDS, and
        # whenever the pool falls idle, so an idle worker never reports a stale busy pool. The
        # worker that answers a scrape samples its own pools then (`render_metrics`).
        nonlocal sampled_at
        now = time.monotonic()
        pool = engine.pool
        idle = isinstance(pool, QueuePool) and pool.checkedout() == 0
        if idle or now - sampled_at >= POOL_SAMPLE_SECONDS:
            sampled_at = now
            gauges.sample(pool)

    for name in ("checkout", "checkin", "connect", "close"):
        event.listen(sync_engine.pool, name, _on_pool_event)
