"""Login throttling: per client address and per username, moving-window counters (`limits`).

A moving window of N per period allows at most N attempts in ANY period-long interval (a
token bucket of N that refills continuously, minus the burst after idling); brute force and
credential stuffing both hit a wall. In-memory by default: one counter set per application
instance. Several instances share counters through `RATE_LIMIT_STORAGE_URI=redis://...`.
"""

import math
import time
from dataclasses import dataclass

from fastapi import Depends, Request
from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from service.kit.errors import TooManyRequests
from service.kit.settings import Settings
from service.kit.state import StateSlot


@dataclass
class LoginRateLimiter:
    """Created once per application (`LOGIN_LIMITER`), so every app starts fresh."""

    item: RateLimitItem
    limiter: MovingWindowRateLimiter

    @classmethod
    def from_settings(cls, settings: Settings) -> "LoginRateLimiter":
        uri = settings.rate_limit_storage_uri
        storage = storage_from_string(uri if uri.startswith("async+") else f"async+{uri}")
        assert isinstance(storage, Storage)
        return cls(item=parse(settings.login_rate_limit), limiter=MovingWindowRateLimiter(storage))

    async def check(self, *, address: str, username: str) -> None:
        """Count one attempt for both keys, or raise 429 with Retry-After if either is spent."""
        keys = (("login-address", address), ("login-username", username.strip().lower()))
        for key in keys:
            if not await self.limiter.test(self.item, *key):
                raise TooManyRequests(
                    "Too many login attempts; try again later.",
                    retry_after=await self._retry_after(key),
                )
        for key in keys:
            await self.limiter.hit(self.item, *key)

    async def _retry_after(self, key: tuple[str, str]) -> int:
        stats = await self.limiter.get_window_stats(self.item, *key)
        return max(1, math.ceil(stats.reset_time - time.time()))


LOGIN_LIMITER: StateSlot[LoginRateLimiter] = StateSlot("login_limiter")


def client_address(request: Request) -> str:
    """The peer address; behind a proxy run uvicorn with --proxy-headers/--forwarded-allow-ips."""
    return request.client.host if request.client else "unknown"


async def throttle_login(request: Request) -> None:
    """Route dependency for a login form; the form is parsed once and cached on the request."""
    username = (await request.form()).get("username")
    limiter = LOGIN_LIMITER.of(request)
    await limiter.check(
        address=client_address(request), username=username if isinstance(username, str) else ""
    )


LoginThrottle = Depends(throttle_login)
