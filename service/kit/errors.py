"""One error hierarchy, rendered as RFC 9457 problem+json by one set of handlers."""

import logging
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from service.kit.db.errors import is_data_error, is_unavailable
from service.kit.http.asgi import TrackedSend
from service.kit.settings import SETTINGS

log = logging.getLogger("inkwell.errors")

PROBLEM_JSON = "application/problem+json"


class ProblemItem(BaseModel):
    loc: list[str | int]
    msg: str


class Problem(BaseModel):
    """RFC 9457 problem details, the body of every error response."""

    type: str = Field(examples=["/problems/not-found"])
    title: str = Field(examples=["Not Found"])
    status: int = Field(ge=400, le=599, examples=[404])
    detail: str = Field(examples=["No such post."])
    errors: list[ProblemItem] | None = Field(default=None, description="only on 422")


DATABASE_UNAVAILABLE = "The database is unavailable."
DATA_CONFLICT = "The request conflicts with existing data."
UNSTORABLE_VALUE = "A value in the request cannot be stored or compared."
UNEXPECTED = "An unexpected error occurred."


class AppError(Exception):
    """Base of every error a client may see; subclasses fix the status and title."""

    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal Server Error"
    slug: ClassVar[str] = "internal"

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers = headers or {}


class BadRequest(AppError):
    status, title, slug = 400, "Bad Request", "bad-request"


class Unauthorized(AppError):
    status, title, slug = 401, "Unauthorized", "unauthorized"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(AppError):
    status, title, slug = 404, "Not Found", "not-found"


class ContentTooLarge(AppError):
    status, title, slug = 413, "Content Too Large", "content-too-large"

    @classmethod
    def over(cls, limit: int) -> "ContentTooLarge":
        return cls(f"The request body is larger than {limit} bytes.")


class ValidationFailed(AppError):
    """A request that does not match its schema; `errors` names each field (never its value)."""

    status, title, slug = 422, "Unprocessable Content", "validation"

    def __init__(self, errors: list[dict[str, Any]], detail: str = "The request is not valid."):
        super().__init__(detail)
        self.errors = errors


class Conflict(AppError):
    status, title, slug = 409, "Conflict", "conflict"


class PreconditionFailed(AppError):
    status, title, slug = 412, "Precondition Failed", "precondition-failed"


class TooManyRequests(AppError):
    status, title, slug = 429, "Too Many Requests", "too-many-requests"

    def __init__(
        self, detail: str | None = None, *, retry_after: int, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail, headers={**(headers or {}), "Retry-After": str(retry_after)})


class ServiceUnavailable(AppError):
    status, title, slug = 503, "Service Unavailable", "unavailable"

    def __init__(self, detail: str | None = None, *, retry_after: int = 2) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    slug: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {"type": f"/problems/{slug}", "title": title, "status": status, "detail": detail}
    return JSONResponse(
        {**body, **extra}, status_code=status, headers=headers, media_type=PROBLEM_JSON
    )


def render(error: AppError) -> JSONResponse:
    """The problem+json response of `error` (a `ValidationFailed` lists its `errors`)."""
    extra = {"errors": error.errors} if isinstance(error, ValidationFailed) else {}
    return problem(
        error.status, error.title, error.detail, slug=error.slug, headers=error.headers, **extra
    )


async def _app_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, AppError)
    return render(error)


async def _validation_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    # Only location and message: the submitted value ("input") may be a password.
    return render(
        ValidationFailed([{"loc": list(e["loc"]), "msg": e["msg"]} for e in error.errors()])
    )


async def _http_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    status = error.status_code
    titles = {404: "Not Found", 405: "Method Not Allowed", 413: "Content Too Large"}
    title = titles.get(status, "HTTP Error")
    return problem(
        status,
        title,
        str(error.detail),
        slug=title.lower().replace(" ", "-"),
        headers=dict(error.headers or {}),
    )


async def _database_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, sa_exc.SQLAlchemyError)
    if isinstance(error, sa_exc.IntegrityError):
        return render(Conflict(DATA_CONFLICT))
    if is_data_error(error):
        # A value that passed validation but not the database: still the request's fault.
        log.warning("database refused a value: %s", type(error).__name__)
        return render(BadRequest(UNSTORABLE_VALUE))
    if is_unavailable(error):
        log.warning("database unavailable: %s", type(error).__name__)
        retry_after = SETTINGS.of(request).retry_after_seconds
        return render(ServiceUnavailable(DATABASE_UNAVAILABLE, retry_after=retry_after))
    return await _unhandled(request, error)


async def _os_error(request: Request, error: Exception) -> JSONResponse:
    if is_unavailable(error):
        retry_after = SETTINGS.of(request).retry_after_seconds
        return render(ServiceUnavailable(DATABASE_UNAVAILABLE, retry_after=retry_after))
    return await _unhandled(request, error)


async def _unhandled(request: Request, error: Exception) -> JSONResponse:
    if is_unavailable(error):  # e.g. a driver error SQLAlchemy did not wrap
        retry_after = SETTINGS.of(request).retry_after_seconds
        return render(ServiceUnavailable(DATABASE_UNAVAILABLE, retry_after=retry_after))
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return render(AppError(UNEXPECTED))


class ErrorBoundary:
    """Pure ASGI: an exception nothing else handled becomes the problem+json 500 (or 503) here,
    inside the access log and security headers middleware, so that response carries them too.

    Starlette's own ServerErrorMiddleware (outermost, around every user middleware) would
    answer as well, but outside those layers. Exceptions meant for an outer middleware (the
    replication retry) are raised by layers inside this one only when it is placed outside them.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tracked = TrackedSend(send)
        try:
            await self.app(scope, receive, tracked)
        except Exception as error:
            if tracked.started:
                raise
            response = await _unhandled(Request(scope, receive), error)
            await response(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(sa_exc.SQLAlchemyError, _database_error)
    app.add_exception_handler(OSError, _os_error)
    app.add_exception_handler(Exception, _unhandled)
