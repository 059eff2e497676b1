from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.errors import NotFound
from service.stats import repository
from service.stats.schemas import UserStats


async def user_stats(session: AsyncSession, user_id: int) -> UserStats:
    counts = await repository.user_stats(session, user_id)
    if counts is None:
        raise NotFound("No such user.")
    return UserStats(**counts)
