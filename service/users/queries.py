"""The compiled reads of users."""

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Table, bindparam, select

from service.database.reads import CompiledRead
from service.users.models import Role, User

USERS: Table = User.__table__  # type: ignore[attr-defined]

TOKEN_USER = CompiledRead(select(USERS).where(USERS.c.id == bindparam("user_id")))
"""A token's user, by id: one statement outside any session (the row as the driver reads it:
`users.entity` types it)."""


def entity(row: Mapping[str, Any]) -> User:
    """A `User` from a `TOKEN_USER` row (the role is text on the driver's path)."""
    return User(**{**row, "role": Role(row["role"])})
