"""Database errors are classified precisely, with real errors from each backend: a value the
database refuses is the request's fault (400), never "database unavailable" (503)."""

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.kit.db.errors import DbFailure, classify, is_data_error, is_unavailable

BAD_VALUES = {
    "sqlite": ["SELECT json_extract('{not json', '$.a')", "SELECT json('NaN')"],
    "postgresql": [
        "SELECT '{not json'::jsonb",
        "SELECT 'NaN'::jsonb",
        "SELECT 9223372036854775807::bigint + 1",
        "SELECT '1.0'::bigint",
        "SELECT '294277-01-01'::timestamptz",
    ],
}


async def _error(engine: AsyncEngine, statement: str) -> sa_exc.DBAPIError:
    with pytest.raises(sa_exc.DBAPIError) as caught:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    return caught.value


async def test_refused_values_are_data_errors_not_outages(
    backend: str, engine: AsyncEngine
) -> None:
    statements = BAD_VALUES["sqlite" if backend == "sqlite" else "postgresql"]
    for statement in statements:
        error = await _error(engine, statement)
        assert is_data_error(error), (statement, error)
        assert not is_unavailable(error), statement
        assert classify(error) is DbFailure.DATA


async def test_an_sqlite_schema_error_is_not_an_outage(backend: str, engine: AsyncEngine) -> None:
    """SQLite reports both as OperationalError; only its lock/open/I/O errors are outages."""
    if backend != "sqlite":
        error = await _error(engine, "SELECT * FROM no_such_table")
        assert classify(error) is DbFailure.OTHER
        return
    error = await _error(engine, "SELECT * FROM no_such_table")
    assert isinstance(error, sa_exc.OperationalError)
    assert not is_unavailable(error)
    assert classify(error) is DbFailure.OTHER
