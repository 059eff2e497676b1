"""Application factory: `uvicorn --factory service.main:create_app`.

The composition root: the one place that builds the process' objects, puts them in their
typed `app.state` slots, orders the middleware and mounts the routers.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware import Middleware

from service import models  # noqa: F401  (every table model, so the mapper is complete)
from service.api_docs import DESCRIPTION, TAGS
from service.bookmarks.router import router as bookmarks_router
from service.comments.router import router as comments_router
from service.database.guard import SESSION_GUARD, SessionGuard
from service.database.session import DATABASE, SESSION_ROUTER, Database
from service.feed.router import router as feed_router
from service.feeds.router import router as feeds_router
from service.flows import sender as webhook_sender
from service.flows import worker as job_worker
from service.follows.router import router as follows_router
from service.health.lifecycle import LIFECYCLE, Lifecycle, freeze_startup_heap
from service.health.router import router as health_router
from service.idempotency.dependency import HEADER as IDEMPOTENCY_HEADER
from service.idempotency.dependency import REPLAYED_HEADER
from service.jobs.outbox import OUTBOX, Outbox
from service.jobs.worker import JOBS
from service.kit.errors import ErrorBoundary, install_error_handlers
from service.kit.http.caching import HttpCaching
from service.kit.http.docs import mount_docs
from service.kit.http.methods import install_method_routing
from service.kit.http.middleware import (
    BodyLimitMiddleware,
    QueryStringGuard,
    SecurityHeadersMiddleware,
    cors,
)
from service.kit.http.openapi import openapi_of
from service.kit.http.routing import Route
from service.kit.pagination import CURSOR_CODEC, CursorCodec
from service.kit.settings import SETTINGS
from service.moderation.router import router as moderation_router
from service.notifications.router import router as notifications_router
from service.observability.access import ObservabilityMiddleware
from service.observability.logging import configure_logging
from service.observability.metrics import mark_process_dead, metrics_router
from service.observability.tracing import (
    TRACING,
    Tracing,
    telemetry_config,
    tracing_middleware,
)
from service.posts.read_router import router as posts_read_router
from service.posts.revisions.router import router as revisions_router
from service.posts.router import router as posts_router
from service.ratelimit.limiter import RATE_LIMITER, RateLimiter
from service.realtime.router import router as realtime_router
from service.realtime.runtime import REALTIME, Realtime
from service.replication.middleware import ConsistencyMiddleware
from service.replication.replicas import REPLICAS, ReplicaSet
from service.replication.routing import ReplicaRouter
from service.replication.tokens import COOKIE as CONSISTENCY_COOKIE
from service.replication.tokens import HEADER as CONSISTENCY_HEADER
from service.replication.tokens import TOKEN_HEADER, TokenIssuer
from service.settings import Settings, get_settings
from service.stats.router import router as stats_router
from service.tags.router import router as tags_router
from service.users.router import auth_router
from service.users.router import router as users_router
from service.users.security import HASHING, Hashing
from service.webhooks.router import router as webhooks_router
from service.webhooks.runtime import WEBHOOKS, Webhooks


def middleware(settings: Settings, tracing: Tracing | None = None) -> list[Middleware]:
    """THE middleware list, outermost first. Every layer is pure ASGI.

    The order is the point: logging/metrics, security headers and caching see every response
    (the error boundary's 500 too; a HEAD runs as a GET below caching); CORS, the body limit and
    the query guard come before anything reads; read-your-writes is innermost, so it can re-run
    a GET whose replica read failed before anything was sent."""
    return [
        Middleware(ObservabilityMiddleware),
        *tracing_middleware(tracing),
        Middleware(SecurityHeadersMiddleware, production=settings.environment == "production"),
        Middleware(
            HttpCaching,
            max_age=settings.read_cache_seconds,
            personal_headers=("Authorization", CONSISTENCY_HEADER),
            personal_cookie=CONSISTENCY_COOKIE,
            never_cache=("/health/", "/metrics"),
        ),
        Middleware(ErrorBoundary),
        *cors(
            settings,
            allow_headers=(IDEMPOTENCY_HEADER, CONSISTENCY_HEADER),
            expose_headers=(REPLAYED_HEADER, CONSISTENCY_HEADER),
        ),
        Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes),
        Middleware(QueryStringGuard),
        Middleware(
            ConsistencyMiddleware,
            secret=settings.jwt_secret,
            retry_after=settings.retry_after_seconds,
        ),
    ]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    tracing = Tracing.from_settings(settings)  # None unless TRACING_ENABLED

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = DATABASE.put(app, Database.from_settings(settings))
        SESSION_GUARD.put(app, SessionGuard.from_settings(settings))
        replicas = REPLICAS.put(app, ReplicaSet.from_settings(settings, primary=db.reader))
        tokens = TokenIssuer(
            settings.jwt_secret, secure_cookie=settings.environment == "production"
        )
        SESSION_ROUTER.put(app, ReplicaRouter(db, replicas, tokens))
        if tracing is not None:
            tracing.instrument([db.reader, *(replica.engine for replica in replicas.replicas)])
        replicas.start()
        # Durable work: events are written to the outbox in the request's transaction; after
        # a commit the feed and the embedded worker are woken (service/flows.py: the handlers).
        outbox = OUTBOX.put(app, Outbox())
        realtime = REALTIME.put(app, Realtime(settings, db))
        sender = webhook_sender(settings, db)
        WEBHOOKS.put(app, Webhooks.build(settings, sender))
        jobs = JOBS.put(app, job_worker(settings, db, sender.wake, outbox))
        outbox.on_commit(realtime.tail.wake)
        outbox.on_commit(jobs.wake)
        realtime.start()
        jobs.start(run_jobs=settings.jobs_embedded)
        if settings.jobs_embedded:
            sender.start()
        lifecycle = LIFECYCLE.of(app)
        lifecycle.on_shutdown(realtime.close_clients)
        unhook_signals = lifecycle.hook_server_signals(delay=settings.shutdown_delay_seconds)
        if settings.gc_freeze:
            freeze_startup_heap()
        try:
            yield
        finally:
            lifecycle.begin_shutdown()
            unhook_signals()
            await realtime.stop()
            await jobs.stop()
            await sender.stop()
            await replicas.dispose()
            await db.dispose()
            await RATE_LIMITER.of(app).close()
            mark_process_dead()
            if tracing is not None:
                tracing.shutdown()

    app = FastAPI(
        title="Inkwell",
        version="0.1.0",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        middleware=middleware(settings, tracing),
        docs_url=None,  # served offline by mount_docs below, not from a CDN
        redoc_url=None,
        # FastAPI's built-in OpenTelemetry: off (free) unless TRACING_ENABLED, then tracing only
        telemetry=telemetry_config(tracing),
    )
    app.router.route_class = Route  # the routes the app declares itself (docs pages)
    SETTINGS.put(app, settings)
    TRACING.put(app, tracing)
    LIFECYCLE.put(app, Lifecycle())
    CURSOR_CODEC.put(app, CursorCodec(settings.jwt_secret))
    RATE_LIMITER.put(app, RateLimiter.from_settings(settings))
    HASHING.put(app, Hashing.from_settings(settings))
    install_error_handlers(app)

    # Included directly under the prefix (one routing level, not a nested /api/v1 router); the
    # hottest reads first (a request is matched against the routes in order). Ids are typed in
    # the paths (`{post_id:id}`), so the order is about speed only.
    for router in (
        posts_read_router,
        comments_router,
        posts_router,
        revisions_router,
        users_router,
        auth_router,
        tags_router,
        follows_router,
        feed_router,
        bookmarks_router,
        stats_router,
        notifications_router,
        webhooks_router,
        feeds_router,
        realtime_router,
        moderation_router,
    ):
        app.include_router(router, prefix="/api/v1")
    app.include_router(health_router)
    app.include_router(metrics_router)
    mount_docs(app)
    install_method_routing(app)
    # A committed write's response carries its consistency token (service/replication).
    app.openapi = openapi_of(app, write_headers=(TOKEN_HEADER,))  # type: ignore[method-assign]
    return app
