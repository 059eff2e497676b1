"""Application factory: `uvicorn --factory service.main:create_app`."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from service import models  # noqa: F401  (registers every table model with the mapper)
from service.core.db import Database, SessionGuard
from service.core.errors import install_error_handlers
from service.core.pagination import CursorCodec
from service.core.settings import Settings, get_settings
from service.health.router import router as health_router
from service.posts.router import router as posts_router
from service.users.router import router as users_router


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.db = Database.from_settings(settings)
        app.state.session_guard = SessionGuard.from_settings(settings)
        try:
            yield
        finally:
            await app.state.db.dispose()

    app = FastAPI(
        title="Inkwell",
        version="0.1.0",
        lifespan=lifespan,
        max_body_size=settings.max_body_bytes,
    )
    app.state.settings = settings
    app.state.cursor_codec = CursorCodec(settings.jwt_secret)
    install_error_handlers(app)

    api = APIRouter(prefix="/api/v1")
    api.include_router(users_router)
    api.include_router(posts_router)
    app.include_router(api)
    app.include_router(health_router)
    return app
