"""Edits of one post (`PATCH`, a revision's restore): its fields, its schedule, the optimistic
version, the revision of the content an edit replaces, the publication event. Never commits."""

from typing import Any

from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.errors import ValidationFailed
from service.kit.model_base import utcnow
from service.kit.preconditions import Precondition
from service.posts import repository, service
from service.posts.events import PostPublished, Publisher
from service.posts.models import Post, PostStatus, excerpt_of
from service.posts.revisions import repository as revisions
from service.posts.schemas import PostPublic, PostUpdate
from service.tags import service as tags
from service.users.models import User

CONTENT = ("title", "body", "tags", "meta")
"""What a revision keeps: a change of any of these records the state it replaces."""


def _refused(field: str, message: str) -> ValidationFailed:
    return ValidationFailed([{"loc": ["body", field], "msg": message}], detail=message)


NEEDS_PUBLISH_AT = _refused("publish_at", "a scheduled post needs publish_at")
NOT_SCHEDULED = _refused("publish_at", "publish_at is only for a scheduled post")


def content_of(post: Post) -> dict[str, Any]:
    """The post's content as a revision keeps it."""
    tag_names = sorted(tag.name for tag in post.tags)
    return {"title": post.title, "body": post.body, "tags": tag_names, "meta": post.meta}


def _schedule(post: Post, changes: dict[str, Any]) -> None:
    """The rules that depend on the post (the schema checked the rest): a post becomes
    `scheduled` only with a `publish_at`, a `publish_at` alone moves a scheduled post's time,
    and any other status clears it."""
    status = changes.get("status", post.status)
    if status is PostStatus.scheduled:
        if "publish_at" not in changes and post.status is not PostStatus.scheduled:
            raise NEEDS_PUBLISH_AT
    elif "publish_at" in changes:
        raise NOT_SCHEDULED
    elif post.publish_at is not None:
        changes["publish_at"] = None


async def update(
    session: AsyncSession,
    publisher: Publisher,
    *,
    post_id: int,
    user: User,
    data: PostUpdate,
    precondition: Precondition,
) -> PostPublic:
    """The owner's change (`PATCH`): only the fields sent."""
    post = await service.get_owned(session, post_id, user)
    service.check_precondition(post, precondition)
    return await apply(session, publisher, post, editor=user, data=data)


async def apply(
    session: AsyncSession,
    publisher: Publisher,
    post: Post,
    *,
    editor: User,
    data: PostUpdate,
    record: bool = False,
) -> PostPublic:
    """Apply `data` to `post` (loaded with its author and tags), bumping its version once; the
    content it replaces becomes a revision when it changes (always with `record`)."""
    assert post.id is not None
    assert editor.id is not None
    was_published = post.status == PostStatus.published
    # Explicit nulls never get here (PostUpdate refuses them): what is set is a change.
    changes = data.model_dump(exclude_unset=True)
    _schedule(post, changes)
    before = content_of(post)
    asked = {field: changes[field] for field in CONTENT if field in changes}
    if "tags" in asked:
        asked["tags"] = sorted(asked["tags"])  # a set of names, compared as the revision keeps it
    changed = record or any(before[field] != value for field, value in asked.items())
    new_tags = changes.pop("tags", None)
    if new_tags is not None:
        # The link rows first, while the post is still clean: their statements autoflush, and
        # a post made dirty before them would be UPDATEd twice (two versions for one PATCH).
        await _set_tags(session, post, new_tags)
        # Link rows are not columns of `posts`: touch the row so the version still moves.
        post.updated_at = utcnow()
    for field, value in changes.items():
        setattr(post, field, value)
    if "body" in changes:
        post.excerpt = excerpt_of(post.body)
    # The versioned UPDATE first: it holds the row, so revision numbers follow edits in order.
    await service.flush_versioned(session)
    if changed:
        await revisions.record(session, post.id, before, editor_id=editor.id, edited_at=utcnow())
    if not was_published and post.status == PostStatus.published:
        await publisher.published(session, [PostPublished(post.id, post.author_id)])
    return await service.representation(session, post.id)


async def _set_tags(session: AsyncSession, post: Post, names: list[str]) -> None:
    assert post.id is not None
    by_name = await tags.get_or_create(session, names)
    chosen = [by_name[name] for name in names]
    await repository.replace_tags(session, post.id, [t.id for t in chosen if t.id is not None])
    # The response shows the tags without another SELECT and without an ORM collection flush.
    set_committed_value(post, "tags", sorted(chosen, key=lambda t: t.name))
