"""The password-hashing queue: FIFO up to PASSWORD_HASH_QUEUE waiting, a clear 503 past it."""

import asyncio

import pytest

from service.kit.errors import ServiceUnavailable
from service.users.security import Hashing
from tests.support.settings import make_settings


async def test_hashes_queue_up_to_the_bound_then_503() -> None:
    hashing = Hashing(concurrency=1, queue=1, retry_after=2)
    running = asyncio.create_task(hashing.hash("first-password"))
    waiting = asyncio.create_task(hashing.hash("second-password"))
    await asyncio.sleep(0)  # both admitted: one runs, one waits its turn
    assert hashing.in_flight == 2
    with pytest.raises(ServiceUnavailable) as refused:
        await hashing.verify("third-password", None)
    assert refused.value.headers["Retry-After"] == "2"
    assert "PASSWORD_HASH_QUEUE" in refused.value.detail
    first, second = await asyncio.gather(running, waiting)
    assert await hashing.verify("first-password", first)
    assert not await hashing.verify("first-password", second)
    assert hashing.in_flight == 0


async def test_the_cost_of_new_hashes_is_a_setting_and_any_cost_verifies() -> None:
    cheap = Hashing.from_settings(make_settings("sqlite+aiosqlite://"))
    hashed = await cheap.hash("a-password")
    assert "$m=1024,t=1," in hashed
    assert await Hashing(concurrency=1, queue=1, retry_after=1).verify("a-password", hashed)
    assert not await cheap.verify("a-password", None)
