from collections.abc import Sequence
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.pagination import SortKey, paginate
from service.moderation.models import ModerationEntry

NEWEST_FIRST = SortKey("-at", (col(ModerationEntry.at), col(ModerationEntry.id)), descending=True)


async def list_page(
    session: AsyncSession, *, after: Sequence[Any] | None, limit: int
) -> Sequence[ModerationEntry]:
    statement = paginate(select(ModerationEntry), NEWEST_FIRST, after, limit)
    return (await session.exec(statement)).all()
