"""Comment rules: threads stay on one post, soft delete by author or post owner. Never commits."""

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel.ext.asyncio.session import AsyncSession

from service.comments import events, read_model, repository
from service.comments.models import Comment
from service.comments.repository import BY_ID
from service.comments.schemas import CommentCreate, CommentPublic, CommentThread
from service.jobs.outbox import Outbox
from service.kit.authz import authorize
from service.kit.errors import BadRequest, NotFound
from service.kit.model_base import utcnow
from service.kit.pagination import Page, Pager
from service.moderation import service as moderation
from service.moderation.models import Action
from service.posts import service as posts
from service.posts.models import Post
from service.users.models import User


def to_thread(comment: Comment, depth: int) -> CommentThread:
    """The comment and `depth` loaded levels below it; shown replies only (a page's rule)."""
    below = comment.replies if depth > 0 else []
    shown = [r for r in below if not r.deleted or r.reply_count > 0]
    return CommentThread(
        **read_model.of_entity(comment).model_dump(),
        replies=[to_thread(r, depth - 1) for r in shown],
    )


async def create(
    session: AsyncSession, outbox: Outbox, *, post_id: int, author: User, data: CommentCreate
) -> CommentPublic:
    post = await posts.get_visible(session, post_id, author, bare=True)
    assert post.id is not None
    assert author.id is not None
    if data.parent_id is not None:
        parent = await repository.get(session, data.parent_id)
        if parent is None or parent.post_id != post.id:
            raise BadRequest("parent_id must be a comment of the same post.")
    comment = Comment(
        post_id=post.id, author_id=author.id, parent_id=data.parent_id, body=data.body
    )
    session.add(comment)
    await session.flush()
    await events.created(
        outbox,
        session,
        comment_id=str(comment.id),
        post_id=post.id,
        post_author_id=post.author_id,
        author_id=author.id,
    )
    set_committed_value(comment, "author", author)
    set_committed_value(comment, "reply_count", 0)
    return read_model.of_entity(comment)


async def _visible_comment(
    session: AsyncSession, comment_id: uuid.UUID, viewer: User | None
) -> tuple[Comment, Post]:
    """A live comment on a post the viewer may see (a deleted post hides its comments)."""
    comment = await repository.get(session, comment_id)
    if comment is None:
        raise NotFound("No such comment.")
    try:
        post = await posts.get_visible(session, comment.post_id, viewer, bare=True)
    except NotFound as error:
        raise NotFound("No such comment.") from error
    return comment, post


async def read(
    session: AsyncSession, *, comment_id: uuid.UUID, viewer: User | None
) -> CommentPublic:
    """A live comment, or a deleted one that still holds replies (shown as deleted, as a page
    shows it), on a post the viewer may see; anything else does not exist for them."""
    comment = await repository.with_counts(session, comment_id)
    return read_model.of_entity(await _shown(session, comment, viewer))


async def _page(
    reader: AsyncConnection,
    *,
    post_id: int,
    parent_id: uuid.UUID | None,
    pager: Pager,
) -> Page[CommentPublic]:
    """One keyset page of a thread, oldest first, each comment with its `reply_count`."""
    after = pager.after(BY_ID)
    statement = read_model.page(
        top_level=parent_id is None, cursor=after is not None, rows=pager.limit + 1
    )
    params: dict[str, Any] = {"post_id": post_id}
    if parent_id is not None:
        params["parent_id"] = parent_id
    if after is not None:
        params["after"] = after[0]
    rows = await statement.all(reader, **params)
    items, next_cursor = pager.page(rows, BY_ID)
    return Page(items=read_model.to_public(items), next_cursor=next_cursor)


async def top_level(
    reader: AsyncConnection, *, post_id: int, viewer: User | None, pager: Pager
) -> Page[CommentPublic]:
    """A post's top-level comments: two statements on the read connection (the post's
    visibility, then the page), no ORM entities."""
    await posts.check_visible(reader, post_id, viewer)
    return await _page(reader, post_id=post_id, parent_id=None, pager=pager)


async def replies(
    reader: AsyncConnection, *, comment_id: uuid.UUID, viewer: User | None, pager: Pager
) -> Page[CommentPublic]:
    # A deleted comment that still shows replies holds its thread (as in `thread`); one without
    # is gone, like a deleted post, and so are its replies (found by schemathesis' stateful run).
    comment = await read_model.parent().first(reader, comment_id=comment_id)
    if comment is None or (comment["deleted"] and comment["reply_count"] == 0):
        raise NotFound("No such comment.")
    try:
        await posts.check_visible(reader, comment["post_id"], viewer)
    except NotFound as error:
        raise NotFound("No such comment.") from error
    return await _page(reader, post_id=comment["post_id"], parent_id=comment_id, pager=pager)


async def thread(
    session: AsyncSession, *, comment_id: uuid.UUID, viewer: User | None, depth: int
) -> CommentThread:
    """A comment (live, or deleted but holding replies) and `depth` levels of its replies."""
    comment = await repository.thread(session, comment_id, depth)
    return to_thread(await _shown(session, comment, viewer), depth)


async def _shown(session: AsyncSession, comment: Comment | None, viewer: User | None) -> Comment:
    """The comment if a page would show it (live, or deleted but holding replies) on a post the
    viewer may see; anything else does not exist for them."""
    if comment is None or (comment.deleted and comment.reply_count == 0):
        raise NotFound("No such comment.")
    try:
        await posts.get_visible(session, comment.post_id, viewer, bare=True)
    except NotFound as error:
        raise NotFound("No such comment.") from error
    return comment


async def delete(session: AsyncSession, *, comment_id: uuid.UUID, user: User) -> None:
    """By its author, the post's owner, or a moderator (logged)."""
    comment, post = await _comment_to_moderate(session, comment_id, user, include_deleted=False)
    authorize(comment, user, allow=_may_remove(post), what="comment")
    comment.deleted_at = utcnow()
    _record_if_moderated(session, comment, post, user, Action.comment_delete)
    await session.flush()


async def restore(session: AsyncSession, *, comment_id: uuid.UUID, user: User) -> CommentPublic:
    """Whoever may delete it may restore it; a deleted comment is unknown (404) to anyone else."""
    comment, post = await _comment_to_moderate(session, comment_id, user, include_deleted=True)
    if comment.deleted_at is not None and not _may_remove(post)(comment, user):
        raise NotFound("No such comment.")
    authorize(comment, user, allow=_may_remove(post), what="comment")
    comment.deleted_at = None
    _record_if_moderated(session, comment, post, user, Action.comment_restore)
    await session.flush()
    restored = await repository.with_counts(session, comment.id, refresh=True)
    assert restored is not None  # the session holds it, deleted_at just cleared
    return read_model.of_entity(restored)


def _may_remove(post: Post) -> Callable[[Comment, User], bool]:
    def allow(comment: Comment, user: User) -> bool:
        return user.id in (comment.author_id, post.author_id) or moderation.may_moderate(user)

    return allow


async def _comment_to_moderate(
    session: AsyncSession, comment_id: uuid.UUID, user: User, *, include_deleted: bool
) -> tuple[Comment, Post]:
    """The comment and its post; a moderator reaches comments on any live post, drafts too."""
    if not moderation.may_moderate(user) and not include_deleted:
        return await _visible_comment(session, comment_id, user)
    comment = await repository.get(session, comment_id, include_deleted=include_deleted)
    if comment is None:
        raise NotFound("No such comment.")
    try:
        if moderation.may_moderate(user):
            post = await posts.get_any(session, comment.post_id)
        else:
            post = await posts.get_visible(session, comment.post_id, user, bare=True)
    except NotFound as error:
        raise NotFound("No such comment.") from error
    return comment, post


def _record_if_moderated(
    session: AsyncSession, comment: Comment, post: Post, user: User, action: Action
) -> None:
    if user.id not in (comment.author_id, post.author_id):
        moderation.record(session, user, action, target_type="comment", target_id=comment.id)
