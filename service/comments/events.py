"""What happened to comments, written to the transactional outbox in the comment's transaction;
who reacts is wired by the composition root (`service/flows.py`)."""

from sqlmodel.ext.asyncio.session import AsyncSession

from service.jobs.outbox import Outbox

COMMENT_CREATED = "comment.created"
"""Payload: comment_id, post_id, post_author_id, author_id (who commented)."""


async def created(
    outbox: Outbox,
    session: AsyncSession,
    *,
    comment_id: str,
    post_id: int,
    post_author_id: int,
    author_id: int,
) -> None:
    payload = {
        "comment_id": comment_id,
        "post_id": post_id,
        "post_author_id": post_author_id,
        "author_id": author_id,
    }
    await outbox.emit(session, COMMENT_CREATED, [payload])
