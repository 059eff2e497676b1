from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import joinedload
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.follows.models import Follow
from service.kit.db import dialects
from service.kit.pagination import SortKey, paginate

# Newest first; the other user's id breaks ties (each index ends with it).
FOLLOWERS = SortKey("followers", (col(Follow.followed_at), col(Follow.follower_id)), True)
FOLLOWING = SortKey("following", (col(Follow.followed_at), col(Follow.followee_id)), True)


async def add(session: AsyncSession, *, follower_id: int, followee_id: int) -> bool:
    """Idempotent: following twice keeps the first `followed_at`; True when the row is new."""
    inserted = await session.exec(
        dialects.insert(session, Follow)
        .values(follower_id=follower_id, followee_id=followee_id)
        .on_conflict_do_nothing(index_elements=["follower_id", "followee_id"])
        .returning(col(Follow.follower_id))
    )
    return inserted.first() is not None


async def remove(session: AsyncSession, *, follower_id: int, followee_id: int) -> None:
    await session.exec(
        delete(Follow).where(
            col(Follow.follower_id) == follower_id, col(Follow.followee_id) == followee_id
        )
    )


@dataclass(frozen=True)
class Side:
    """One direction of the follow graph: whose follows to list, and who to show for each."""

    key: SortKey
    of_user: Any  # the column holding the listed user's id
    shown: Any  # the relationship loaded for each row


FOLLOWERS_OF = Side(FOLLOWERS, col(Follow.followee_id), Follow.follower)
FOLLOWED_BY = Side(FOLLOWING, col(Follow.follower_id), Follow.followee)


async def page(
    session: AsyncSession, side: Side, *, user_id: int, after: Sequence[Any] | None, limit: int
) -> Sequence[Follow]:
    statement = (
        select(Follow)
        .options(joinedload(side.shown, innerjoin=True))
        .where(side.of_user == user_id)
    )
    return (await session.exec(paginate(statement, side.key, after, limit))).all()
