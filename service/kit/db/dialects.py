"""Dialect-specific statements: `INSERT ... ON CONFLICT` exists on PostgreSQL and SQLite alike."""

from typing import Any

from sqlalchemy import ColumnElement, Table, literal_column
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession

Upsert = postgresql.Insert | sqlite.Insert


def dialect_name(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def insert(session: AsyncSession, table: Any) -> Upsert:
    """An INSERT of the session's dialect, with `on_conflict_do_nothing/do_update`."""
    target: Table = table if isinstance(table, Table) else table.__table__
    if dialect_name(session) == "postgresql":
        return postgresql.insert(target)
    return sqlite.insert(target)


def constant(value: str) -> ColumnElement[str]:
    """A string written into the SQL, not sent as a parameter: a prepared statement's generic
    plan can use a partial index only when its predicate's value is in the statement itself."""
    if "'" in value:
        raise ValueError("a constant is a plain word")
    return literal_column(f"'{value}'")
