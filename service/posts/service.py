"""Post rules: visibility of drafts, ownership, optimistic locking, soft delete. Never commits."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm.exc import StaleDataError
from sqlmodel.ext.asyncio.session import AsyncSession

from service.core.errors import Forbidden, NotFound, PreconditionFailed
from service.core.model_base import utcnow
from service.core.pagination import SortKey
from service.posts import repository
from service.posts.models import Post, PostStatus
from service.posts.repository import PostFilter
from service.posts.schemas import PostCreate, PostUpdate
from service.realtime import events as realtime_events
from service.users.models import User


def etag(post: Post) -> str:
    return f'"{post.id}-{post.version}"'


def _visible_to(post: Post, viewer: User | None) -> bool:
    return post.status == PostStatus.published or (
        viewer is not None and viewer.id == post.author_id
    )


async def create(session: AsyncSession, *, author: User, data: PostCreate) -> Post:
    assert author.id is not None
    post = Post(
        author_id=author.id, title=data.title, body=data.body, status=data.status, meta=data.meta
    )
    post.author = author
    session.add(post)
    await session.flush()
    await realtime_events.publish_post_created(session, post)
    return post


async def get_visible(session: AsyncSession, post_id: int, viewer: User | None) -> Post:
    """A published post, or the viewer's own draft; anything else does not exist for them."""
    post = await repository.get(session, post_id)
    if post is None or not _visible_to(post, viewer):
        raise NotFound("No such post.")
    return post


async def get_owned(
    session: AsyncSession, post_id: int, user: User, *, include_deleted: bool = False
) -> Post:
    post = await repository.get(session, post_id, include_deleted=include_deleted)
    if post is None or not _visible_to(post, user):
        raise NotFound("No such post.")
    if post.author_id != user.id:
        raise Forbidden("Only the author may change this post.")
    return post


async def list_page(
    session: AsyncSession,
    *,
    filters: PostFilter,
    sort: SortKey,
    after: Sequence[Any] | None,
    limit: int,
) -> Sequence[Post]:
    return await repository.list_page(session, filters=filters, sort=sort, after=after, limit=limit)


def check_precondition(post: Post, if_match: str | None) -> None:
    """412 unless `If-Match` is absent, `*`, or names the post's current version."""
    if if_match is None or if_match.strip() == "*":
        return
    tags = {t.strip().removeprefix("W/") for t in if_match.split(",")}
    if etag(post) not in tags:
        raise PreconditionFailed("The post has changed since you read it.")


async def update(
    session: AsyncSession, *, post: Post, data: PostUpdate, if_match: str | None
) -> Post:
    check_precondition(post, if_match)
    was_published = post.status == PostStatus.published
    for field, value in data.model_dump(exclude_unset=True).items():
        if value is None:
            continue
        setattr(post, field, value)
    await _flush_versioned(session)
    if not was_published:
        await realtime_events.publish_post_created(session, post)
    return post


async def soft_delete(session: AsyncSession, *, post: Post, if_match: str | None) -> None:
    check_precondition(post, if_match)
    post.deleted_at = utcnow()
    await _flush_versioned(session)


async def restore(session: AsyncSession, *, post: Post) -> Post:
    post.deleted_at = None
    await _flush_versioned(session)
    return post


async def _flush_versioned(session: AsyncSession) -> None:
    try:
        await session.flush()
    except StaleDataError as error:
        # Another transaction bumped the version between our read and our write.
        raise PreconditionFailed("The post was changed by another request.") from error
