"""Rate limits: moving-window counters (`limits`) in memory or in Redis, and the route dependency.

A moving window of N per period allows at most N hits in ANY period-long interval. Counters are
per instance in memory; `RATE_LIMIT_STORAGE_URI=redis://...` shares them (docs/security.md)."""

import logging
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any

from fastapi import Depends, Request, Response, params
from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.util import WindowStats

from service.kit.authz import Principal
from service.kit.errors import ServiceUnavailable, TooManyRequests
from service.kit.http.answers import RATE_LIMIT, Answers, declares
from service.kit.settings import SETTINGS, KitSettings
from service.kit.state import StateSlot
from service.ratelimit.settings import RateLimitSettings

log = logging.getLogger("inkwell.ratelimit")

STORE_UNAVAILABLE = "The rate limit store is unavailable."


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int
    """Seconds until the window frees a hit (at least 1)."""
    counted: bool = True
    """False when the store could not be reached: let through, uncounted, no headers."""

    def headers(self) -> dict[str, str]:
        if not self.counted:
            return {}
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_after),
        }


@dataclass(frozen=True)
class Count:
    """One counter: its limit and its key (a namespace, then an identifier)."""

    item: RateLimitItem
    key: tuple[str, ...]


class RateLimiter:
    """One storage and strategy per application (`RATE_LIMITER`), so every app starts fresh."""

    def __init__(self, storage: Storage, retry_after: int = 2) -> None:
        self.storage = storage
        self.strategy = MovingWindowRateLimiter(storage)
        self.retry_after = retry_after
        self._reserved: Counter[tuple[str, ...]] = Counter()
        """Hits this process has reserved and not yet settled, per key."""

    @classmethod
    def from_settings(cls, settings: RateLimitSettings) -> "RateLimiter":
        uri = settings.rate_limit_storage_uri
        options: dict[str, Any] = {}
        if uri.startswith(("redis://", "rediss://", "async+redis")):
            options["implementation"] = "redispy"
        # A shared store's own errors (connection refused or cut) as one StorageError; the
        # memory store's ValueErrors stay what they are (bugs, not outages).
        options["wrap_exceptions"] = not uri.removeprefix("async+").startswith("memory")
        storage = storage_from_string(
            uri if uri.startswith("async+") else f"async+{uri}", **options
        )
        assert isinstance(storage, Storage)
        return cls(storage, settings.retry_after_seconds)

    async def close(self) -> None:
        """Close the Redis client of a shared store (`limits` offers no close of its own: its
        redis-py client sits on the storage's bridge); nothing to do in memory."""
        client = getattr(getattr(self.storage, "bridge", None), "storage", None)
        aclose = getattr(client, "aclose", None)
        if aclose is not None:
            await aclose()

    async def hit(self, item: RateLimitItem, *key: str) -> Verdict:
        """Count one hit if the budget allows it; the verdict says whether it did. A store that
        fails (Redis down) lets the request through uncounted: the per-caller budgets fail open,
        so an outage of the counters never stops the service's writes."""
        try:
            allowed = await self.strategy.hit(item, *key)
            stats = await self.strategy.get_window_stats(item, *key)
        except StorageError as error:
            log.warning("rate limit store failed; %s not counted: %s", key[0], error.storage_error)
            return Verdict(True, item.amount, item.amount, 1, counted=False)
        return Verdict(allowed, item.amount, stats.remaining, _reset_after(stats))

    async def reserve(self, *counts: Count) -> list[Verdict]:
        """Reserve one hit of each count if every one has room, else none; a verdict per count.

        For a hit decided later (a login counts only if it fails); every reservation must end
        with `settle`. Room is read with no await in between, so concurrent requests cannot all
        pass before any is counted. A store that fails is a 503 with Retry-After: the login
        throttle fails closed (no password guessing while the counters are away)."""
        try:
            windows = [await self.strategy.get_window_stats(c.item, *c.key) for c in counts]
        except StorageError as error:
            log.warning("rate limit store failed; login refused: %s", error.storage_error)
            raise ServiceUnavailable(STORE_UNAVAILABLE, retry_after=self.retry_after) from error
        room = [w.remaining - self._reserved[c.key] for c, w in zip(counts, windows, strict=True)]
        verdicts = [
            Verdict(left > 0, c.item.amount, max(0, left), _reset_after(w) if w.remaining else 1)
            for c, w, left in zip(counts, windows, room, strict=True)
        ]
        if all(v.allowed for v in verdicts):
            self._reserved.update(c.key for c in counts)
        return verdicts

    async def settle(self, *counts: Count, hit: bool) -> None:
        """End the reservations of `reserve`: counted as hits, or dropped (a store that fails
        meanwhile loses that one failure: the login's answer stands)."""
        try:
            if hit:
                for count in counts:
                    await self.strategy.hit(count.item, *count.key)
        except StorageError as error:
            log.warning(
                "rate limit store failed; a failed login not counted: %s", error.storage_error
            )
        finally:
            self._reserved.subtract(c.key for c in counts)
            for count in counts:
                if self._reserved[count.key] <= 0:
                    del self._reserved[count.key]

    async def clear(self, count: Count) -> None:
        """Forget every hit of the count's key (a login's success clears its failures; a store
        that fails keeps them, to expire with their window)."""
        try:
            await self.strategy.clear(count.item, *count.key)
        except StorageError as error:
            log.warning("rate limit store failed; failures not cleared: %s", error.storage_error)


def _reset_after(window: WindowStats) -> int:
    return max(1, math.ceil(window.reset_time - time.time()))


RATE_LIMITER: StateSlot[RateLimiter] = StateSlot("rate_limiter")

DISABLED = ("", "off")
"""Values of a rate-limit setting that switch it off (benchmarks, trusted deployments)."""


@lru_cache(maxsize=64)
def limit_item(value: str) -> RateLimitItem:
    """A `limits` string ("10/minute") parsed once."""
    return parse(value)


def client_address(request: Request) -> str:
    """The peer address, or the client a trusted proxy names (PROXY_HEADERS, FORWARDED_ALLOW_IPS:
    uvicorn's proxy headers middleware, set up by service/serve.py)."""
    return request.client.host if request.client else "unknown"


def refused(verdict: Verdict, what: str, setting: str, value: str) -> TooManyRequests:
    """The 429, naming the setting that sets the budget (operators raise it there)."""
    detail = f"Too many {what}; try again later (in {verdict.reset_after} s; {setting}={value})."
    return TooManyRequests(detail, retry_after=verdict.reset_after, headers=verdict.headers())


@dataclass(frozen=True)
class Budget:
    """A per-caller budget: `setting` (a `limits` string such as "60/minute", a field of the
    settings section `section`; empty or "off" disables it) counts per user, per client address
    when anonymous. `name` is the counter: two budgets with one name share it."""

    name: str
    setting: str
    what: str
    section: type[KitSettings]

    async def charge(self, request: Request, who: object | None) -> dict[str, str]:
        """Count one request of `who` (anything with an `id`, or None when anonymous); 429
        when over budget, else the `RateLimit-*` headers to send."""
        value = str(getattr(SETTINGS.of(request), self.setting)).strip()
        if value in DISABLED:
            return {}
        user_id = getattr(who, "id", None)
        key = f"user:{user_id}" if user_id is not None else f"address:{client_address(request)}"
        verdict = await RATE_LIMITER.of(request).hit(limit_item(value), self.name, key)
        if not verdict.allowed:
            raise refused(verdict, self.what, self.setting.upper(), value)
        return verdict.headers()

    @property
    def answers(self) -> Answers:
        """What charging it may answer, for the OpenAPI document (see `answers_of`)."""
        return Answers((refusal_example(self.what, self.setting, self.section),), RATE_LIMIT)


def refusal_example(what: str, setting: str, section: type[KitSettings]) -> TooManyRequests:
    """The 429 a limit set by `setting` of `section` (at its default) answers, for the OpenAPI
    document."""
    default = section.model_fields[setting].default
    return refused(
        Verdict(False, limit_item(default).amount, 0, 42), what, setting.upper(), default
    )


def per_caller(
    budget: Budget, *, caller: Callable[..., Awaitable[Principal | None]]
) -> params.Depends:
    """The budget as a route dependency. `caller` is the application's way of knowing the user
    (the users package passes its dependency; one that needs no database keeps a refused
    request off the pool). A route that charges only some requests (a listing whose `q` makes
    it a search) calls `Budget.charge` itself instead, so the others pay nothing."""

    @declares(*budget.answers.errors, headers=budget.answers.headers)
    async def rate_limit(
        request: Request, response: Response, who: Annotated[Any, Depends(caller)]
    ) -> None:
        response.headers.update(await budget.charge(request, who))

    return params.Depends(rate_limit)
