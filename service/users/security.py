"""Password hashing (off the event loop) and JWT access tokens."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import anyio.to_thread
import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from service.kit.model_base import utcnow
from service.kit.settings import Settings

_hasher = PasswordHash((Argon2Hasher(),))
# Verified against when the user does not exist, so timing does not reveal existence.
_DUMMY_HASH = _hasher.hash("inkwell-timing-equaliser")


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_hasher.hash, password)


async def verify_password(password: str, password_hash: str | None) -> bool:
    """False for a missing hash too, after the same amount of work as a real check."""
    matches = await anyio.to_thread.run_sync(_hasher.verify, password, password_hash or _DUMMY_HASH)
    return matches and password_hash is not None


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    token_version: int


def create_access_token(settings: Settings, *, user_id: int, token_version: int) -> str:
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


def decode_access_token(settings: Settings, token: str) -> TokenClaims | None:
    """The token's claims, or None when it is expired, forged or not meant for us."""
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=[settings.jwt_algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
        return TokenClaims(user_id=int(claims["sub"]), token_version=int(claims.get("ver", 0)))
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
