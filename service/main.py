"""Application factory: `uvicorn --factory service.main:create_app`."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from service import models  # noqa: F401  (registers every table model with the mapper)
from service.comments.router import router as comments_router
from service.follows.router import router as follows_router
from service.health.router import router as health_router
from service.idempotency.recorder import install_idempotency
from service.kit.db.guard import SessionGuard
from service.kit.db.session import Database
from service.kit.errors import PROBLEM_RESPONSES, install_error_handlers
from service.kit.http.middleware import install_middleware
from service.kit.http.openapi import install_openapi_links
from service.kit.lifecycle import Lifecycle
from service.kit.observability.access import install_observability
from service.kit.observability.metrics import mark_process_dead
from service.kit.pagination import CursorCodec
from service.kit.settings import Settings, get_settings
from service.notifications.router import router as notifications_router
from service.notifications.service import notify_followers
from service.posts.events import POST_EVENTS, PostEvents
from service.posts.router import router as posts_router
from service.realtime.router import router as realtime_router
from service.realtime.runtime import Realtime
from service.replication.middleware import ConsistencyMiddleware
from service.stats.router import router as stats_router
from service.tags.router import router as tags_router
from service.users.ratelimit import LoginRateLimiter
from service.users.router import router as users_router


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.db = Database.from_settings(settings)
        app.state.session_guard = SessionGuard.from_settings(settings)
        app.state.db.start()
        app.state.realtime = realtime = Realtime(settings, app.state.db)
        realtime.start()
        # What follows a post's publication: the feed announces it, then followers are notified.
        post_events = POST_EVENTS.put(app, PostEvents())
        post_events.subscribe(realtime.announce)
        post_events.subscribe(notify_followers)
        lifecycle: Lifecycle = app.state.lifecycle
        lifecycle.on_shutdown(realtime.close_clients)
        unhook_signals = lifecycle.hook_server_signals(delay=settings.shutdown_delay_seconds)
        try:
            yield
        finally:
            lifecycle.begin_shutdown()
            unhook_signals()
            await realtime.stop()
            await app.state.db.dispose()
            mark_process_dead()

    app = FastAPI(
        title="Inkwell",
        version="0.1.0",
        lifespan=lifespan,
        # The body limit is `BodyLimitMiddleware` (problem+json 413, streamed bodies counted).
    )
    app.state.settings = settings
    app.state.lifecycle = Lifecycle()
    app.state.cursor_codec = CursorCodec(settings.jwt_secret)
    app.state.login_limiter = LoginRateLimiter.from_settings(settings)
    install_error_handlers(app)
    # add_middleware wraps: the last one added is the outermost. The idempotency recorder sits
    # outside the consistency middleware so a replay carries the first response's token; the
    # body limit and the query guard sit outside both (the former buffers GET bodies).
    app.add_middleware(
        ConsistencyMiddleware,
        secret=settings.jwt_secret,
        secure_cookie=settings.environment == "production",
        retry_after=settings.retry_after_seconds,
    )
    install_idempotency(app)
    install_middleware(app, settings)
    install_openapi_links(app)
    install_observability(app, settings)

    api = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES)
    api.include_router(users_router)
    api.include_router(posts_router)
    api.include_router(comments_router)
    api.include_router(tags_router)
    api.include_router(follows_router)
    api.include_router(stats_router)
    api.include_router(notifications_router)
    api.include_router(realtime_router)
    app.include_router(api)
    app.include_router(health_router, responses=PROBLEM_RESPONSES)
    return app
