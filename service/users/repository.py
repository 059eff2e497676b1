from collections.abc import Sequence
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.core.pagination import SortKey, paginate
from service.users.models import User

USERS_BY_ID = SortKey("id", (col(User.id),), descending=False)


async def get_by_id(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def get_by_username(session: AsyncSession, username: str) -> User | None:
    result = await session.exec(select(User).where(User.username == username))
    return result.first()


async def list_page(
    session: AsyncSession, *, after: Sequence[Any] | None, limit: int
) -> Sequence[User]:
    statement = paginate(select(User), USERS_BY_ID, after, limit)
    return (await session.exec(statement)).all()
