"""Hot reads below the ORM: a Core SELECT compiled once, run on the read session's connection.

The statement is an ordinary SQLAlchemy Core `Select` (typed columns, labels, bound
parameters), one per dialect where they differ. On PostgreSQL it is compiled once to asyncpg's
SQL and run with the driver's own `fetch` on the session's connection: no ORM execution, no
per-call compilation, no result-processing layer, one statement cache lookup in asyncpg. On
SQLite, and behind PgBouncer (see `DRIVER_READS`), it runs through SQLAlchemy Core. Either way
the rows are read by label. Because it runs on the request's `AsyncReadSession`, the replica
routing, the session guard, fail-over and the tests' rolled-back connection all apply unchanged.

Rules for statements run this way: soft-delete conditions are written into them (the ORM
filter does not see them), and their parameters are plain values the driver accepts as they
are (ints, strings, aware datetimes): no bind processors run on PostgreSQL.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.db.engines import DRIVER_READS

Row = Mapping[str, Any]


class CompiledRead:
    """One read: `statements` per dialect name, "default" for the others."""

    def __init__(self, default: Select[Any], **per_dialect: Select[Any]) -> None:
        self.statements = {"default": default, **per_dialect}
        self._driver_sql: tuple[str, tuple[str, ...]] | None = None

    def _compiled(self, dialect: Dialect) -> tuple[str, tuple[str, ...]]:
        """asyncpg's SQL ($1, $2, ...) and the parameter names in order, compiled once."""
        if self._driver_sql is None:
            statement = self.statements.get(dialect.name, self.statements["default"])
            compiled = statement.compile(dialect=dialect)
            if compiled.literal_execute_params or compiled.post_compile_params:
                raise ValueError("expanding or literal-execute parameters need the Core path")
            self._driver_sql = (compiled.string, tuple(compiled.positiontup or ()))
        return self._driver_sql

    async def all(self, session: AsyncSession, **params: Any) -> Sequence[Row]:
        connection = await session.connection()
        sync = connection.sync_connection
        assert sync is not None
        if sync.get_execution_options().get(DRIVER_READS):
            sql, names = self._compiled(connection.dialect)
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection
            rows: Sequence[Row] = await driver.fetch(sql, *(params[n] for n in names))
            return rows
        statement = self.statements.get(connection.dialect.name, self.statements["default"])
        mapped: Sequence[Row] = (await connection.execute(statement, params)).mappings().all()
        return mapped

    async def first(self, session: AsyncSession, **params: Any) -> Row | None:
        rows = await self.all(session, **params)
        return rows[0] if rows else None
