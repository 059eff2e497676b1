"""Login throttling that counts what an attacker does: FAILED logins, per username
(LOGIN_RATE_LIMIT, brute force on one account) and per client address (LOGIN_ADDRESS_RATE_LIMIT,
far larger: one address spraying many usernames). A successful login spends neither budget and
clears its username's failures, so an office behind one address signs in all day."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from service.kit.errors import Unauthorized
from service.kit.http.answers import declares
from service.ratelimit.limiter import (
    RATE_LIMITER,
    Count,
    RateLimiter,
    client_address,
    limit_item,
    refusal_example,
    refused,
)
from service.users.settings import USERS_SETTINGS, UsersSettings

PER_USERNAME = ("failed logins for this username", "login_rate_limit")
PER_ADDRESS = ("failed logins from this address", "login_address_rate_limit")


@dataclass(frozen=True)
class LoginThrottle:
    """The login budgets of one request's client address."""

    limiter: RateLimiter
    address: str
    per_username: str
    per_address: str

    @asynccontextmanager
    async def attempt(self, username: str) -> AsyncIterator[None]:
        """Around the password check: a 429 before it (no hash, no query) when either budget is
        spent; an `Unauthorized` out of it counts one failure on both; a success clears the
        username's failures. Attempts still being checked hold their place in the budgets."""
        name = username.strip().lower()
        username_count = Count(limit_item(self.per_username), ("login-failed-username", name))
        address_count = Count(limit_item(self.per_address), ("login-failed-address", self.address))
        counts = (username_count, address_count)
        budgets = ((*PER_USERNAME, self.per_username), (*PER_ADDRESS, self.per_address))
        verdicts = await self.limiter.reserve(*counts)
        for verdict, (what, setting, value) in zip(verdicts, budgets, strict=True):
            if not verdict.allowed:
                raise refused(verdict, what, setting.upper(), value)
        failed = False
        try:
            yield
        except Unauthorized:
            failed = True
            raise
        finally:
            await self.limiter.settle(*counts, hit=failed)
        await self.limiter.clear(username_count)


@declares(
    refusal_example(*PER_USERNAME, UsersSettings), refusal_example(*PER_ADDRESS, UsersSettings)
)
async def login_throttle(request: Request) -> LoginThrottle:
    settings = USERS_SETTINGS.of(request)
    return LoginThrottle(
        RATE_LIMITER.of(request),
        client_address(request),
        settings.login_rate_limit,
        settings.login_address_rate_limit,
    )


LoginThrottleDep = Annotated[LoginThrottle, Depends(login_throttle)]
