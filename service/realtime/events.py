"""Announce newly published posts, only once the transaction that published them commits.

PostgreSQL: `pg_notify` inside the request's transaction; the server delivers it at COMMIT
(never on rollback, including a rolled-back savepoint) to every instance's listener. The payload
is just the post id (NOTIFY payloads are capped at 8000 bytes and a post body is up to 100 kB);
each instance loads the post itself.
SQLite (one process): the serialized post waits in `session.info` and is handed to the
in-process hubs by the session's `after_commit` event.
"""

from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from service.posts.models import Post, PostStatus
from service.posts.schemas import PostPublic
from service.realtime.hub import publish_local

CHANNEL = "inkwell_posts"
_PENDING = "inkwell_realtime_pending"
_PUBLISHED = "inkwell_published_post_ids"


def serialize(post: Post) -> str:
    """The websocket message: the same JSON as `GET /posts/{id}` returns."""
    return PostPublic.model_validate(post).model_dump_json(by_alias=True)


async def publish_post_created(session: AsyncSession, post: Post) -> None:
    """Call after the flush that made `post` published (create, or draft -> published)."""
    if post.status != PostStatus.published or post.id is None:
        return
    session.info.setdefault(_PUBLISHED, []).append(post.id)
    if session.sync_session.get_bind().dialect.name == "postgresql":
        connection = await session.connection()
        await connection.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": CHANNEL, "payload": str(post.id)},
        )
    else:
        session.info.setdefault(_PENDING, []).append(serialize(post))


def published_post_ids(session: AsyncSession) -> list[int]:
    """Posts this session published so far (the router schedules follow-up work from it)."""
    ids: list[int] = session.info.get(_PUBLISHED, [])
    return list(ids)


@event.listens_for(Session, "after_commit")
def _deliver_local(session: Session) -> None:
    pending: list[str] = session.info.pop(_PENDING, [])
    for message in pending:
        publish_local(message)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session, *_: Any) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_PUBLISHED, None)
