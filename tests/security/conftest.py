"""Fixtures for the security suite: SQL snapshots of every table."""

from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel

from tests.support.snapshots import Snapshot


@pytest.fixture
def snapshot(connection: AsyncConnection) -> Callable[[], Awaitable[Snapshot]]:
    """Every row of every table, read with plain SQL (no ORM filters) on the test connection."""

    async def take() -> Snapshot:
        rows: Snapshot = {}
        for table in SQLModel.metadata.sorted_tables:
            statement = select(table).order_by(*table.primary_key.columns)
            rows[table.name] = [tuple(row) for row in (await connection.execute(statement))]
        return rows

    return take
