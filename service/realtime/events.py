"""Announce newly published posts on the feed, only once the transaction that published them
commits. `Realtime.announce` (subscribed to posts' events by `create_app`) picks one of two ways:

PostgreSQL: `pg_notify` inside the publishing transaction; the server delivers it at COMMIT
(never on rollback, including a rolled-back savepoint) to every instance's listener. The payload
is just the post id (NOTIFY payloads are capped at 8000 bytes and a post body is up to 100 kB);
each instance loads the post itself.
SQLite (one process): the posts are read in the publishing transaction and handed to this
process's hub by an `after_commit` callback (dropped with a rolled-back savepoint).
"""

from collections.abc import Sequence

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.db.after_commit import after_commit
from service.posts import service as posts
from service.posts.schemas import PostPublic
from service.realtime.hub import Hub

CHANNEL = "inkwell_posts"


def serialize(post: PostPublic) -> str:
    """The websocket message: the same JSON as `GET /posts/{id}` returns."""
    return post.model_dump_json(by_alias=True)


async def notify(session: AsyncSession, post_ids: Sequence[int]) -> None:
    """NOTIFY every listening instance, at COMMIT, of the published posts."""
    connection = await session.connection()
    if len(post_ids) == 1:
        await connection.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": CHANNEL, "payload": str(post_ids[0])},
        )
        return
    await connection.execute(
        text("SELECT pg_notify(:channel, id::text) FROM unnest(CAST(:ids AS bigint[])) AS id"),
        {"channel": CHANNEL, "ids": list(post_ids)},
    )


async def deliver_after_commit(session: AsyncSession, hub: Hub, post_ids: Sequence[int]) -> None:
    """Read the posts now (inside the transaction), hand them to `hub` once it commits."""
    if not len(hub):
        return  # nobody is listening on this instance: skip the query, as the listener does
    messages = [serialize(post) for post in await posts.read_published(session, list(post_ids))]

    def publish() -> None:
        for message in messages:
            hub.publish(message)

    after_commit(session, publish)
