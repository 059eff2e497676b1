"""Password hashing (off the event loop, a bounded queue of its own) and JWT access tokens."""

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, TypeVar

import anyio
import anyio.to_thread
import jwt
from fastapi import Depends, Request
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from service.kit.errors import ServiceUnavailable
from service.kit.http.answers import declares
from service.kit.model_base import utcnow
from service.kit.schemas import MAX_BIGINT
from service.kit.state import StateSlot
from service.users.settings import UsersSettings

R = TypeVar("R")

QUEUE_FULL = "Too many password checks are waiting; retry shortly (PASSWORD_HASH_QUEUE)."

_hasher = PasswordHash((Argon2Hasher(),))
# Verified against when the user does not exist, so timing does not reveal existence.
_DUMMY_PASSWORD = "inkwell-timing-equaliser"
_DUMMY_HASH = _hasher.hash(_DUMMY_PASSWORD)


def password_hasher(settings: UsersSettings) -> PasswordHash:
    """argon2 at the settings' cost (argon2's defaults unless PASSWORD_HASH_* lower it, which
    only tests do); verification reads the cost from each hash, so any stored hash verifies."""
    if (settings.password_hash_memory_kib, settings.password_hash_time_cost) == (65536, 3):
        return _hasher
    return PasswordHash(
        (
            Argon2Hasher(
                memory_cost=settings.password_hash_memory_kib,
                time_cost=settings.password_hash_time_cost,
            ),
        )
    )


async def hash_password(password: str) -> str:
    """One hash outside any queue (scripts, the seed); requests use `Hashing`."""
    return await anyio.to_thread.run_sync(_hasher.hash, password)


class Hashing:
    """Password hashing and verification for requests: `concurrency` argon2 runs at once (each
    takes ~0.2 s of CPU and 64 MiB), the rest wait in FIFO order, and only past `queue` waiting
    requests is the answer a 503. Callers never hold a database slot, connection or transaction
    while they are here: a burst of logins queues here, not in the pool (where waiters time
    out after DB_POOL_TIMEOUT and other users' writes starve)."""

    def __init__(
        self, concurrency: int, queue: int, retry_after: int, hasher: PasswordHash = _hasher
    ) -> None:
        self.concurrency, self.queue, self.retry_after = concurrency, queue, retry_after
        self.hasher = hasher
        # hashed at the same cost as real passwords, so a missing user takes as long
        self._dummy_hash = _DUMMY_HASH if hasher is _hasher else hasher.hash(_DUMMY_PASSWORD)
        self._limiter: anyio.CapacityLimiter | None = None
        self.in_flight = 0

    @classmethod
    def from_settings(cls, settings: UsersSettings) -> "Hashing":
        concurrency = settings.password_hash_concurrency or max(1, os.cpu_count() or 1)
        hasher = password_hasher(settings)
        return cls(concurrency, settings.password_hash_queue, settings.retry_after_seconds, hasher)

    async def _run(self, function: Callable[..., R], *args: Any) -> R:
        if self.in_flight >= self.concurrency + self.queue:
            raise ServiceUnavailable(QUEUE_FULL, retry_after=self.retry_after)
        if self._limiter is None:  # created on the event loop that uses it
            self._limiter = anyio.CapacityLimiter(self.concurrency)
        self.in_flight += 1
        try:
            return await anyio.to_thread.run_sync(function, *args, limiter=self._limiter)
        finally:
            self.in_flight -= 1

    async def hash(self, password: str) -> str:
        return await self._run(self.hasher.hash, password)

    async def verify(self, password: str, password_hash: str | None) -> bool:
        """False for a missing hash too, after the same amount of work as a real check."""
        matches = await self._run(self.hasher.verify, password, password_hash or self._dummy_hash)
        return matches and password_hash is not None


HASHING: StateSlot[Hashing] = StateSlot("hashing")


@declares(ServiceUnavailable(QUEUE_FULL))
async def get_hashing(request: Request) -> Hashing:
    return HASHING.of(request)


HashingDep = Annotated[Hashing, Depends(get_hashing)]


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    token_version: int


def create_access_token(settings: UsersSettings, *, user_id: int, token_version: int) -> str:
    now = utcnow()
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "ver": token_version,
        "iat": now,
        "exp": now + timedelta(seconds=settings.jwt_expire_seconds),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
    }
    return jwt.encode(claims, settings.jwt_secret, algorithm=settings.jwt_algorithm)


def decode_access_token(settings: UsersSettings, token: str) -> TokenClaims | None:
    """The token's claims, or None when it is expired, forged or not meant for us.

    A token verified once is remembered with its expiry (`_VERIFIED`): the same string needs no
    second signature check, only the clock; a token that failed is checked again each time."""
    key = (settings.jwt_secret, settings.jwt_algorithm, settings.jwt_audience, settings.jwt_issuer)
    remembered = _VERIFIED.get((key, token))
    if remembered is not None:
        claims, expires = remembered
        if time.time() < expires:
            return claims
        del _VERIFIED[(key, token)]
        return None
    try:
        decoded = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=[settings.jwt_algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    verified = _claims(decoded.get("sub"), decoded.get("ver", 0))
    if verified is not None:
        if len(_VERIFIED) >= VERIFIED_TOKENS:
            del _VERIFIED[next(iter(_VERIFIED))]  # the oldest entry
        _VERIFIED[(key, token)] = (verified, float(decoded["exp"]))
    return verified


VERIFIED_TOKENS = 4096
"""How many verified tokens a process remembers (a few MB at most)."""
_VERIFIED: dict[tuple[tuple[str, str, str, str], str], tuple[TokenClaims, float]] = {}


_MAX_TOKEN_VERSION = 2**31 - 1


def _claims(sub: Any, version: Any) -> TokenClaims | None:
    """Even a correctly signed token is trusted only as far as its schema: `sub` the decimal
    digits of a BIGINT id, `ver` an integer in the column's range (no booleans, no floats)."""
    if not isinstance(sub, str) or not sub.isascii() or not sub.isdigit() or len(sub) > 19:
        return None
    if type(version) is not int or not 0 <= version <= _MAX_TOKEN_VERSION:
        return None
    user_id = int(sub)
    if not 1 <= user_id <= MAX_BIGINT:
        return None
    return TokenClaims(user_id=user_id, token_version=version)
