"""The request context every log record carries: request id and, once known, user id."""

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


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
    token = _context.set(RequestContext(request_id or secrets.token_hex(16)))
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
    return secrets.token_hex(16)  # 32 hex digits like uuid4().hex, without building a UUID
