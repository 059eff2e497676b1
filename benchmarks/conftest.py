"""Micro-benchmark fixtures: one uvloop event loop per module, run synchronously.

pytest-benchmark times synchronous callables, so each benchmark drives its coroutine with
`loop.run_until_complete` on a private loop (a constant ~10 us that every variant pays alike).
The database is BENCH_DATABASE_URL, seeded by `make bench-micro` (python -m loadtests.bench
prepare); without it these benchmarks are skipped.
"""

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
import uvloop

T = TypeVar("T")


@pytest.fixture(scope="session")
def database_url() -> str:
    url = os.environ.get("BENCH_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        pytest.skip("BENCH_DATABASE_URL (seeded PostgreSQL) is not set: run `make bench-micro`")
    return url


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    event_loop = uvloop.new_event_loop()
    yield event_loop
    event_loop.close()


class Runner:
    """Runs coroutines on the module's loop: `run(coro)` for setup, `timed(fn)` to benchmark."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def run(self, awaitable: Awaitable[T]) -> T:
        return self.loop.run_until_complete(awaitable)

    def timed(self, make: Callable[[], Awaitable[Any]]) -> Callable[[], Any]:
        return lambda: self.loop.run_until_complete(make())


@pytest.fixture(scope="module")
def runner(loop: asyncio.AbstractEventLoop) -> Runner:
    return Runner(loop)
