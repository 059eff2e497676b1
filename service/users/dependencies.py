"""Authentication dependencies shared by every domain's router."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel.ext.asyncio.session import AsyncSession

from service.idempotency.dependency import require_idempotency
from service.kit.db.guard import side_session
from service.kit.db.session import SessionDep, SessionMakerDep
from service.kit.errors import Unauthorized
from service.kit.http.ratelimit import per_caller
from service.kit.observability.context import bind_user
from service.kit.settings import SETTINGS
from service.users import repository
from service.users.models import User
from service.users.security import decode_access_token

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
TokenDep = Annotated[str | None, Depends(oauth2_scheme)]


async def _authenticate(request: Request, session: AsyncSession, token: str) -> User:
    """The token's user; 401 for a bad or expired token, a deleted user or a revoked token."""
    claims = decode_access_token(SETTINGS.of(request), token)
    if claims is None:
        raise Unauthorized("The access token is invalid or expired.")
    user = await repository.get_by_id(session, claims.user_id)
    if user is None or user.token_version != claims.token_version:
        raise Unauthorized("The access token is no longer valid.")
    bind_user(user.id)
    return user


async def get_optional_user(
    request: Request, sessionmaker: SessionMakerDep, token: TokenDep
) -> User | None:
    """For reads open to anyone: no token, no session at all (the anonymous hot path).

    With a token the user is checked on the primary, in a short session of its own: a revoked
    token (token_version bumped) must fail at once, which a lagging replica cannot promise.
    """
    if token is None:
        return None
    async with side_session(request, sessionmaker) as session:
        return await _authenticate(request, session, token)


async def get_current_user(request: Request, session: SessionDep, token: TokenDep) -> User:
    """For writes: the user is loaded in the request's own transaction (the handler's session)."""
    if token is None:
        raise Unauthorized("Authentication required.")
    return await _authenticate(request, session, token)


async def get_signed_in_user(
    request: Request, sessionmaker: SessionMakerDep, token: TokenDep
) -> User:
    """For reads that need a user but no transaction (an export): the same check as
    `get_optional_user`, in a short session of its own, and a token is required."""
    user = await get_optional_user(request, sessionmaker, token)
    if user is None:
        raise Unauthorized("Authentication required.")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
SignedInUser = Annotated[User, Depends(get_signed_in_user)]
OptionalUser = Annotated[User | None, Depends(get_optional_user)]

Idempotent = require_idempotency(get_current_user)
"""Add to a create route: `@router.post(..., dependencies=[Idempotent])`."""

ExportLimit = per_caller(
    "export", setting="export_rate_limit", what="exports", caller=get_signed_in_user
)
"""EXPORT_RATE_LIMIT per user: `@router.get(..., dependencies=[ExportLimit])`."""
