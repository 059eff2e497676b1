"""Authentication dependencies shared by every domain's router, and the users' own."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel.ext.asyncio.session import AsyncSession

from service.database.reads import primary_connection
from service.database.session import SessionDep, SessionMakerDep
from service.idempotency.dependency import require_idempotency
from service.kit.errors import Unauthorized
from service.kit.http.answers import declares
from service.observability.context import bind_user
from service.ratelimit.limiter import Budget, per_caller
from service.users import queries
from service.users import service as users_service
from service.users.models import User
from service.users.schemas import UserCreate, UserUpdate
from service.users.security import HashingDep, TokenClaims, decode_access_token
from service.users.settings import USERS_SETTINGS, UsersSettings

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
TokenDep = Annotated[str | None, Depends(oauth2_scheme)]


BAD_TOKEN = "The access token is invalid or expired."
REVOKED_TOKEN = "The access token is no longer valid."
NO_TOKEN = "Authentication required."
_REFUSED_TOKENS = (Unauthorized(BAD_TOKEN), Unauthorized(REVOKED_TOKEN))


def _claims(request: Request, token: str) -> TokenClaims:
    claims = decode_access_token(USERS_SETTINGS.of(request), token)
    if claims is None:
        raise Unauthorized(BAD_TOKEN)
    return claims


def _current(user: User | None, claims: TokenClaims) -> User:
    """401 for a deleted user or a revoked token (its token_version was bumped)."""
    if user is None or user.token_version != claims.token_version:
        raise Unauthorized(REVOKED_TOKEN)
    bind_user(user.id)
    return user


async def _authenticate(request: Request, session: AsyncSession, token: str) -> User:
    """The token's user, in the request's session; 401 for a bad, expired or revoked token.

    Read by the compiled `TOKEN_USER` statement and attached to the session as a persistent
    entity, without the ORM's load of `session.get` (the services may still change it)."""
    claims = _claims(request, token)
    row = await queries.TOKEN_USER.first(session, user_id=claims.user_id)
    user = _current(None if row is None else queries.entity(row), claims)
    make_transient_to_detached(user)
    session.add(user)
    return user


async def _check_on_primary(
    request: Request, sessionmaker: async_sessionmaker[AsyncSession], token: str
) -> User:
    """The token's user, read on the primary in one statement outside any session: a revoked
    token must fail at once, which a lagging replica cannot promise."""
    claims = _claims(request, token)
    async with primary_connection(request, sessionmaker) as connection:
        row = await queries.TOKEN_USER.first(connection, user_id=claims.user_id)
    return _current(None if row is None else queries.entity(row), claims)


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, else None: read with FastAPI's
    own parser, as `oauth2_scheme` reads it, for whom a rate limit counts (no padlock)."""
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    return token if scheme.lower() == "bearer" else None


@declares(*_REFUSED_TOKENS, security="optional")
async def get_viewer(
    request: Request, token: TokenDep, sessionmaker: SessionMakerDep
) -> User | None:
    """The signed-in user of a read open to anyone, or None (no token: no database at all)."""
    return None if token is None else await _check_on_primary(request, sessionmaker, token)


@declares(Unauthorized(NO_TOKEN), *_REFUSED_TOKENS, security="required")
async def get_current_user(request: Request, session: SessionDep, token: TokenDep) -> User:
    """For writes: the user is loaded in the request's own transaction (the handler's session)."""
    if token is None:
        raise Unauthorized(NO_TOKEN)
    return await _authenticate(request, session, token)


@declares(Unauthorized(NO_TOKEN), *_REFUSED_TOKENS, security="required")
async def get_signed_in_user(
    request: Request, token: TokenDep, sessionmaker: SessionMakerDep
) -> User:
    """For reads that need a user but no transaction (an export): checked as `get_viewer`
    checks it, and a token is required."""
    if token is None:
        raise Unauthorized(NO_TOKEN)
    return await _check_on_primary(request, sessionmaker, token)


CurrentUser = Annotated[User, Depends(get_current_user)]
SignedInUser = Annotated[User, Depends(get_signed_in_user)]
Viewer = Annotated[User | None, Depends(get_viewer)]

Idempotent = require_idempotency(get_current_user)
"""Add to a create route: `@router.post(..., dependencies=[Idempotent])`."""


async def _new_user(data: UserCreate, hashing: HashingDep) -> User:
    """The registration, hashed BEFORE the route's `SessionDep` takes a database slot
    (FastAPI solves a route's dependencies in the order of its parameters)."""
    return await users_service.new_user(hashing, data)


NewUser = Annotated[User, Depends(_new_user)]
"""Declare before `SessionDep`: the request body as a new `User` with its password hashed."""


@dataclass(frozen=True)
class AccountChange:
    data: UserUpdate
    password_hash: str | None


async def _account_change(
    request: Request, data: UserUpdate, token: TokenDep, hashing: HashingDep
) -> AccountChange:
    """A new password is hashed before any database slot is taken, and only for a caller whose
    token is signed by us (checked without the database; `CurrentUser` checks the rest)."""
    if data.password is None:
        return AccountChange(data, None)
    if token is None or decode_access_token(USERS_SETTINGS.of(request), token) is None:
        raise Unauthorized(NO_TOKEN)
    return AccountChange(data, await hashing.hash(data.password))


AccountChangeDep = Annotated[AccountChange, Depends(_account_change)]
"""Declare before `CurrentUser`: the PATCH body, with a new password already hashed."""


@dataclass(frozen=True)
class TokenHolder:
    """Whom a rate limit counts: the user id of a token we signed (no database involved, so a
    refused request never takes a pool slot); None without a valid token (the address then)."""

    id: int | None


async def token_holder(request: Request) -> TokenHolder | None:
    token = bearer_token(request)
    claims = None if token is None else decode_access_token(USERS_SETTINGS.of(request), token)
    return None if claims is None else TokenHolder(claims.user_id)


WRITES = Budget("write", setting="write_rate_limit", what="writes", section=UsersSettings)
SEARCHES = Budget("search", setting="search_rate_limit", what="searches", section=UsersSettings)
"""Full-text searches: `GET /posts/search`, and `GET /posts?q=` (charged by the route)."""
EXPORTS = Budget("export", setting="export_rate_limit", what="exports", section=UsersSettings)

WriteRateLimit = per_caller(WRITES, caller=token_holder)
"""Add to every write route: `dependencies=[WriteRateLimit]` (before `Idempotent`)."""

SearchRateLimit = per_caller(SEARCHES, caller=token_holder)
"""Add to full-text search routes."""

ExportRateLimit = per_caller(EXPORTS, caller=token_holder)
"""Add to export routes: `dependencies=[ExportRateLimit]`."""
