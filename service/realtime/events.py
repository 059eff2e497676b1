"""Announce newly published posts, only once the transaction that published them commits.

PostgreSQL: `pg_notify` inside the request's transaction; the server delivers it at COMMIT
(never on rollback, including a rolled-back savepoint) to every instance's listener. The payload
is just the post id (NOTIFY payloads are capped at 8000 bytes and a post body is up to 100 kB);
each instance loads the post itself.
SQLite (one process): the serialized post waits in `session.info` and is handed to the
in-process hubs by the session's `after_commit` event.
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import event, text
from sqlalchemy.orm import Session, SessionTransaction
from sqlmodel.ext.asyncio.session import AsyncSession

from service.posts.models import Post, PostStatus
from service.posts.schemas import PostPublic
from service.realtime.hub import publish_local

CHANNEL = "inkwell_posts"
_PENDING = "inkwell_published_posts"


@dataclass(frozen=True)
class _Published:
    transaction: SessionTransaction | None
    """The (nested) transaction that published: its rollback takes the post back."""
    post_id: int
    message: str | None
    """Serialized post for in-process delivery (SQLite); None on PostgreSQL (NOTIFY)."""


def serialize(post: Post) -> str:
    """The websocket message: the same JSON as `GET /posts/{id}` returns."""
    return PostPublic.model_validate(post).model_dump_json(by_alias=True)


async def publish_post_created(session: AsyncSession, post: Post) -> None:
    """Call after the flush that made `post` published (create, or draft -> published)."""
    if post.status != PostStatus.published or post.id is None:
        return
    sync = session.sync_session
    transaction = sync.get_nested_transaction() or sync.get_transaction()
    message = None
    if sync.get_bind().dialect.name == "postgresql":
        connection = await session.connection()
        await connection.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": CHANNEL, "payload": str(post.id)},
        )
    else:
        message = serialize(post)
    session.info.setdefault(_PENDING, []).append(_Published(transaction, post.id, message))


async def publish_posts_created(
    session: AsyncSession,
    post_ids: Sequence[int],
    load: Callable[[Sequence[int]], Awaitable[Sequence[Post]]],
) -> None:
    """Bulk variant: PostgreSQL needs only the ids (one statement); SQLite loads the posts."""
    if not post_ids:
        return
    sync = session.sync_session
    transaction = sync.get_nested_transaction() or sync.get_transaction()
    pending = session.info.setdefault(_PENDING, [])
    if sync.get_bind().dialect.name == "postgresql":
        connection = await session.connection()
        await connection.execute(
            text("SELECT pg_notify(:channel, id::text) FROM unnest(CAST(:ids AS bigint[])) AS id"),
            {"channel": CHANNEL, "ids": list(post_ids)},
        )
        pending.extend(_Published(transaction, post_id, None) for post_id in post_ids)
        return
    for post in await load(post_ids):
        if post.status == PostStatus.published and post.id is not None:
            pending.append(_Published(transaction, post.id, serialize(post)))


def published_post_ids(session: AsyncSession) -> list[int]:
    """Posts this session's transaction published so far (for follow-up work after commit)."""
    return [p.post_id for p in session.info.get(_PENDING, [])]


@event.listens_for(Session, "after_commit")
def _deliver_local(session: Session) -> None:
    for published in session.info.pop(_PENDING, []):
        if published.message is not None:
            publish_local(published.message)


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, rolled_back: SessionTransaction) -> None:
    """Drop what the rolled-back transaction (or a savepoint inside it) published."""
    pending: list[_Published] = session.info.get(_PENDING, [])
    if pending:
        session.info[_PENDING] = [p for p in pending if not _within(p.transaction, rolled_back)]


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False
