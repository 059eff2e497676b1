"""Compiled reads on the driver: a connection that fails under them is dropped, and the
failure is an outage (503), never a 500."""

import asyncio
from typing import Any

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine

from service.database.engines import pool_status
from service.kit.db.errors import DbFailure, classify
from service.users.queries import TOKEN_USER


async def _failed_read(engine: AsyncEngine, break_it: Any) -> sa_exc.DBAPIError:
    async with engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        busy = await break_it(driver)
        try:
            with pytest.raises(sa_exc.DBAPIError) as failed:
                await TOKEN_USER.first(connection, user_id=1)
            assert connection.invalidated  # the pool will not hand this connection out again
        finally:
            if busy is not None:
                busy.cancel()
                await asyncio.gather(busy, return_exceptions=True)
    return failed.value


async def _closed(driver: Any) -> None:
    driver.terminate()


async def _in_use(driver: Any) -> "asyncio.Task[Any]":
    busy = asyncio.create_task(driver.fetch("SELECT pg_sleep(0.5)"))
    await asyncio.sleep(0.05)  # the slow statement has started: the protocol is taken
    return busy


@pytest.mark.postgres_only
@pytest.mark.parametrize("break_it", [_closed, _in_use], ids=["closed", "protocol-in-use"])
async def test_a_broken_connection_under_a_driver_read_is_dropped_and_an_outage(
    engine: AsyncEngine, break_it: Any
) -> None:
    error = await _failed_read(engine, break_it)
    assert error.connection_invalidated
    assert classify(error) is DbFailure.UNAVAILABLE
    async with engine.connect() as connection:  # the pool serves a healthy connection again
        assert await TOKEN_USER.first(connection, user_id=-1) is None
    assert pool_status(engine)["checked_out"] == 0
