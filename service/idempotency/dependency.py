"""`Idempotency-Key` for create endpoints: a retried POST replays the first response.

Adopt it with `dependencies=[Idempotent]`. The key is claimed and its answer recorded inside the
request's own transaction, so the row and what the request created commit or roll back
together; the full contract (409 in progress, 422 on reuse) is in docs/security.md."""

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request, params
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.responses import Response, StreamingResponse

from service.database.session import SessionDep, SessionMakerDep, own_transaction
from service.idempotency.models import IdempotencyKey
from service.idempotency.settings import IDEMPOTENCY_SETTINGS
from service.kit.authz import Principal
from service.kit.errors import AppError, Conflict
from service.kit.http.answers import ResponseHeader, declares
from service.kit.http.routing import Answered, ResponseHook
from service.kit.model_base import utcnow

log = logging.getLogger("inkwell.idempotency")


HEADER = "Idempotency-Key"


REPLAYED_HEADER = "Idempotent-Replayed"
REPLAYED = ResponseHeader(
    REPLAYED_HEADER, "`true` when this is the recorded answer to an earlier request with the key."
)


STORED_HEADERS = ("content-type", "location", "etag")
"""Recorded with the response; what the commit adds (the consistency token, which lets a
client that lost the first response still read its own write) is added after it."""
UNSTORED = frozenset({"set-cookie", "content-length", "date", "server"})


# A loser of the insert race polls this long (each read is a fresh READ COMMITTED snapshot on
# PostgreSQL) for the winner's recorded response before answering 409 "in progress".
_WAIT_POLLS, _WAIT_INTERVAL = 20, 0.05


IN_PROGRESS = "A request with this Idempotency-Key is still in progress."
KEY_REUSED = "This Idempotency-Key was used for a different request."


class IdempotencyKeyReused(AppError):
    status, title, slug = 422, "Unprocessable Content", "idempotency-key-reused"


@dataclass
class _Pending(ResponseHook):
    """A claimed key: the route records its response in the request's transaction
    (service/kit/http/routing.py `ResponseHook`)."""

    record_id: int
    session: AsyncSession
    """The request's session: the response is recorded in its transaction."""
    sessionmaker: async_sessionmaker[AsyncSession]
    """For the consistency token, added after the commit in a transaction of its own."""
    _recorded: dict[str, str] | None = None
    _seen: frozenset[str] = frozenset()

    async def before_commit(self, response: Response) -> None:
        if isinstance(response, StreamingResponse):
            return  # nothing to replay: the key answers "in progress" until its lease ends
        kept = self._recorded = self._kept(response)
        self._seen = frozenset(response.headers.keys())
        statement = (
            update(IdempotencyKey)
            .where(col(IdempotencyKey.id) == self.record_id)
            .values(
                status_code=response.status_code,
                response_headers=kept,
                response_body=response.body,
            )
        )
        await (await self.session.connection()).execute(statement)

    async def after_commit(self, response: Response) -> None:
        """Add the headers the commit added to the response (the consistency token), in a
        transaction of its own. Best effort: without it, a replay is the original answer
        without a token."""
        if self._recorded is None or response.status_code >= 400:
            return
        added = {
            name: value
            for name, value in response.headers.items()
            if name not in self._seen and name not in UNSTORED
        }
        if not added:
            return
        kept = {**self._recorded, **added}
        statement = (
            update(IdempotencyKey)
            .where(col(IdempotencyKey.id) == self.record_id)
            .values(response_headers=kept)
        )
        try:
            async with own_transaction(self.sessionmaker) as session:
                await (await session.connection()).execute(statement)
        except Exception:
            log.warning("could not add the consistency token to an idempotent response's record")

    @staticmethod
    def _kept(response: Response) -> dict[str, str]:
        return {name: value for name, value in response.headers.items() if name in STORED_HEADERS}


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

    @declares(
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
    ) -> _Pending | None:
        if key is None:
            return None
        return await claim(request, user, session, sessionmaker, key)

    return params.Depends(idempotency_key)


async def claim(
    request: Request,
    user: Principal,
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    key: str,
) -> _Pending:
    """Claim `key` for this request, or raise the replay (`Answered`) / the conflict."""
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
            return _Pending(candidate.id, session, sessionmaker)
    if record.fingerprint != signature:
        raise IdempotencyKeyReused(KEY_REUSED)
    if record.status_code is None or record.response_body is None:
        raise Conflict(IN_PROGRESS, headers={"Retry-After": "1"})
    headers = {**record.response_headers, REPLAYED_HEADER: "true"}
    raise Answered(Response(record.response_body, record.status_code, headers))


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


async def purge_expired(session: AsyncSession, *, ttl_seconds: int) -> int:
    """Delete keys older than the TTL; run periodically (cron, or any background task)."""
    cutoff = utcnow() - timedelta(seconds=ttl_seconds)
    result = await session.exec(
        delete(IdempotencyKey).where(col(IdempotencyKey.created_at) < cutoff)
    )
    return int(result.rowcount)
