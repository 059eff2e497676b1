"""What happened to follows, written to the transactional outbox in the follow's transaction;
who reacts is wired by the composition root (`service/flows.py`)."""

from sqlmodel.ext.asyncio.session import AsyncSession

from service.jobs.outbox import Outbox

FOLLOWER_ADDED = "follower.added"
"""Payload: follower_id, followee_id (a new follow, not a repeated one)."""


async def added(
    outbox: Outbox, session: AsyncSession, *, follower_id: int, followee_id: int
) -> None:
    payload = {"follower_id": follower_id, "followee_id": followee_id}
    await outbox.emit(session, FOLLOWER_ADDED, [payload])
