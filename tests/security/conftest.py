"""Helpers for the security suite: SQL snapshots of every table and problem+json checks."""

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from httpx import Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel

Snapshot = dict[str, list[tuple[Any, ...]]]


def assert_problem(response: Response, *statuses: int) -> dict[str, Any]:
    assert response.status_code in statuses, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == response.status_code
    return body


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
