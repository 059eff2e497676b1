"""`Idempotency-Key` for create endpoints: a retried POST replays the first response.

Adopt it on a route in two places: `dependencies=[Idempotent]` in the route decorator, and
`route_class=IdempotentRoute` on its router (service/idempotency/route.py).

How it works (see docs/security.md and docs/operations.md for the full contract):
1. The dependency inserts `(user_id, key, fingerprint)` into `idempotency_keys` inside the
   request's own transaction, before the handler runs. The unique (user_id, key) constraint
   serialises concurrent requests: a second INSERT with the same key waits on the first
   transaction's index entry and fails once it commits (or succeeds if it rolled back).
2. The handler runs and FastAPI renders its response; `IdempotentRoute` then writes the status,
   a header subset and the body into the key's row, still inside the request's transaction.
   The row, the response it replays and what the request created commit together, or roll back
   together: a crash leaves either all of them (the retry replays) or none (the retry re-runs).
3. After the COMMIT the consistency token is known; `IdempotencyRecorder` adds it to the row
   (best effort: a replay without it is still the original answer) before the response leaves.
A row without a recorded answer (a streaming response, or a row written by an older version)
answers 409 "in progress" with Retry-After, and only for `IDEMPOTENCY_LEASE_SECONDS`: after that
the key is taken over and the request re-runs. A retry with the same key but another method,
path or body gets 422.
"""

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request, params
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.responses import Response

from service.idempotency.models import IdempotencyKey
from service.idempotency.settings import IDEMPOTENCY_SETTINGS
from service.kit.authz import Principal
from service.kit.db.session import SessionDep, SessionMakerDep
from service.kit.errors import AppError, Conflict
from service.kit.http.answers import ResponseHeader, answers
from service.kit.model_base import utcnow

log = logging.getLogger("inkwell.idempotency")


HEADER = "Idempotency-Key"


REPLAYED_HEADER = "Idempotent-Replayed"
REPLAYED = ResponseHeader(
    REPLAYED_HEADER, "`true` when this is the recorded answer to an earlier request with the key."
)


# Recorded with the response; `IdempotencyRecorder` adds the consistency token once it is known
# (it lets a client that lost the first response still read its own write).
STORED_HEADERS = ("content-type", "location", "etag")


_STATE_KEY = "inkwell.idempotency"


# A loser of the insert race polls this long (each read is a fresh READ COMMITTED snapshot on
# PostgreSQL) for the winner's recorded response before answering 409 "in progress".
_WAIT_POLLS, _WAIT_INTERVAL = 20, 0.05


IN_PROGRESS = "A request with this Idempotency-Key is still in progress."
KEY_REUSED = "This Idempotency-Key was used for a different request."


class IdempotencyKeyReused(AppError):
    status, title, slug = 422, "Unprocessable Content", "idempotency-key-reused"


class IdempotentReplay(Exception):
    """Raised by the dependency to answer with the recorded response; see `_replay`."""

    def __init__(self, status_code: int, headers: dict[str, str], body: bytes) -> None:
        super().__init__("replay")
        # Plain values: the ORM row is expired when the request's transaction rolls back.
        self.status_code, self.headers, self.body = status_code, headers, body


@dataclass(frozen=True)
class _Pending:
    record_id: int
    session: AsyncSession
    """The request's session: the response is recorded in its transaction."""
    sessionmaker: async_sessionmaker[AsyncSession]
    """For the consistency token, added after the commit in a transaction of its own."""


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(f"{method} {path}\n".encode() + body).hexdigest()


async def _find(session: AsyncSession, user_id: int, key: str) -> IdempotencyKey | None:
    statement = (
        select(IdempotencyKey)
        .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
        .execution_options(populate_existing=True)
    )
    return (await session.exec(statement)).first()


IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias=HEADER,
        min_length=1,
        max_length=255,
        description="Retrying with the same key replays the first response.",
    ),
]


def require_idempotency(current_user: Callable[..., Awaitable[Principal]]) -> params.Depends:
    """The route dependency, bound to the application's way of knowing the caller (the users
    package passes its own): `@router.post(..., dependencies=[Idempotent])`."""

    @answers(
        Conflict(IN_PROGRESS),
        IdempotencyKeyReused(KEY_REUSED),
        headers=(REPLAYED,),
    )
    async def idempotency_key(
        request: Request,
        user: Annotated[Any, Depends(current_user)],
        session: SessionDep,
        sessionmaker: SessionMakerDep,
        key: IdempotencyKeyHeader = None,
    ) -> None:
        if key is not None:
            await claim(request, user, session, sessionmaker, key)

    return params.Depends(idempotency_key)


async def claim(
    request: Request,
    user: Principal,
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    key: str,
) -> None:
    """Claim `key` for this request, or raise the replay / the conflict."""
    assert user.id is not None
    url = request.url
    signature = fingerprint(
        request.method, url.path + (f"?{url.query}" if url.query else ""), await request.body()
    )
    record = await _find(session, user.id, key)
    settings = IDEMPOTENCY_SETTINGS.of(request)
    now = utcnow()
    ttl = timedelta(seconds=settings.idempotency_ttl_seconds)
    lease = timedelta(seconds=settings.idempotency_lease_seconds)
    if record is not None and (
        record.created_at < now - ttl
        or (record.status_code is None and record.created_at < now - lease)
    ):
        # Expired, or "in progress" past its lease (nothing will ever record it): take it over.
        await session.delete(record)
        await session.flush()
        record = None
    if record is None:
        candidate = IdempotencyKey(user_id=user.id, key=key, fingerprint=signature)
        try:
            async with session.begin_nested():
                session.add(candidate)
        except IntegrityError:
            # A concurrent request with this key committed first: answer as its retry.
            record = await _await_response(session, user.id, key)
        else:
            assert candidate.id is not None
            pending = _Pending(candidate.id, session, sessionmaker)
            request.scope.setdefault("state", {})[_STATE_KEY] = pending
            return
    if record.fingerprint != signature:
        raise IdempotencyKeyReused(KEY_REUSED)
    if record.status_code is None or record.response_body is None:
        raise Conflict(IN_PROGRESS, headers={"Retry-After": "1"})
    raise IdempotentReplay(record.status_code, dict(record.response_headers), record.response_body)


async def _await_response(session: AsyncSession, user_id: int, key: str) -> IdempotencyKey:
    """The winner has just committed (with its response, unless it streamed): poll briefly."""
    for _ in range(_WAIT_POLLS):
        record = await _find(session, user_id, key)
        if record is None:  # pragma: no cover (expired and purged in between)
            break
        if record.status_code is not None:
            return record
        await asyncio.sleep(_WAIT_INTERVAL)
    if record is None:  # pragma: no cover
        raise Conflict("The Idempotency-Key is in use; retry.", headers={"Retry-After": "1"})
    return record


async def replay_response(_: Request, error: Exception) -> Response:
    assert isinstance(error, IdempotentReplay)
    headers = {**error.headers, REPLAYED_HEADER: "true"}
    return Response(error.body, status_code=error.status_code, headers=headers)


async def purge_expired(session: AsyncSession, *, ttl_seconds: int) -> int:
    """Delete keys older than the TTL; run periodically (cron, or any background task)."""
    cutoff = utcnow() - timedelta(seconds=ttl_seconds)
    result = await session.exec(
        delete(IdempotencyKey).where(col(IdempotencyKey.created_at) < cutoff)
    )
    return int(result.rowcount)
