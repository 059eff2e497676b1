"""A rate-limit store that cannot be reached (Redis down, or its connection cut) is never a 500:
the per-caller budgets fail open (the request goes through uncounted, no RateLimit headers) and
the login throttle fails closed (503 with Retry-After). Found by `make chaos` (Redis down)."""

from collections.abc import AsyncIterator

import pytest
from limits import parse

from service.kit.errors import ServiceUnavailable
from service.ratelimit.limiter import STORE_UNAVAILABLE, Count, RateLimiter
from service.ratelimit.settings import RateLimitSettings
from tests.support.network import free_port


@pytest.fixture
async def limiter() -> AsyncIterator[RateLimiter]:
    """A limiter on a Redis URL where nothing listens."""
    uri = f"redis://127.0.0.1:{free_port()}/0"
    limiter = RateLimiter.from_settings(
        RateLimitSettings(rate_limit_storage_uri=uri, retry_after_seconds=7)
    )
    yield limiter
    await limiter.close()


async def test_a_budget_lets_the_request_through_uncounted(limiter: RateLimiter) -> None:
    verdict = await limiter.hit(parse("1/minute"), "writes", "user:1")
    assert verdict.allowed
    assert not verdict.counted
    assert verdict.headers() == {}


async def test_the_login_throttle_refuses_with_a_503_and_retry_after(limiter: RateLimiter) -> None:
    with pytest.raises(ServiceUnavailable) as refused:
        await limiter.reserve(Count(parse("3/minute"), ("login-failed-username", "x")))
    assert refused.value.detail == STORE_UNAVAILABLE
    assert refused.value.headers == {"Retry-After": "7"}


async def test_settling_and_clearing_survive_the_store(limiter: RateLimiter) -> None:
    count = Count(parse("3/minute"), ("login-failed-username", "x"))
    await limiter.settle(count, hit=True)
    await limiter.clear(count)
