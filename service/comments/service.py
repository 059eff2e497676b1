"""Comment rules: threads stay on one post, soft delete by author or post owner. Never commits."""

import uuid

from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel.ext.asyncio.session import AsyncSession

from service.comments import repository
from service.comments.models import Comment
from service.comments.schemas import CommentCreate, CommentPublic
from service.kit.authz import authorize
from service.kit.errors import BadRequest, NotFound
from service.kit.model_base import utcnow
from service.kit.pagination import Page, Pager
from service.posts import service as posts
from service.posts.models import Post
from service.users.models import User


def to_public(comment: Comment, reply_count: int) -> CommentPublic:
    deleted = comment.deleted_at is not None
    return CommentPublic(
        id=comment.id,
        post_id=comment.post_id,
        parent_id=comment.parent_id,
        body=None if deleted else comment.body,
        author=None if deleted else comment.author,  # type: ignore[arg-type]
        deleted=deleted,
        reply_count=reply_count,
        created_at=comment.created_at,
    )


async def create(
    session: AsyncSession, *, post_id: int, author: User, data: CommentCreate
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
    set_committed_value(comment, "author", author)
    return to_public(comment, 0)


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


async def _page(
    session: AsyncSession, *, post_id: int, parent_id: uuid.UUID | None, pager: Pager
) -> Page[CommentPublic]:
    """One keyset page of a thread, oldest first, each comment with its `reply_count`."""
    rows = await repository.page(
        session,
        post_id=post_id,
        parent_id=parent_id,
        after=pager.after(repository.BY_ID),
        limit=pager.limit,
    )
    items, next_cursor = pager.page(rows, repository.BY_ID)
    counts = await repository.reply_counts(session, [c.id for c in items])
    return Page(items=[to_public(c, counts.get(c.id, 0)) for c in items], next_cursor=next_cursor)


async def top_level(
    session: AsyncSession, *, post_id: int, viewer: User | None, pager: Pager
) -> Page[CommentPublic]:
    await posts.get_visible(session, post_id, viewer, bare=True)
    return await _page(session, post_id=post_id, parent_id=None, pager=pager)


async def replies(
    session: AsyncSession, *, comment_id: uuid.UUID, viewer: User | None, pager: Pager
) -> Page[CommentPublic]:
    # A deleted comment may still have replies: look it up with the filter lifted.
    comment = await repository.get(session, comment_id, include_deleted=True)
    if comment is None:
        raise NotFound("No such comment.")
    try:
        await posts.get_visible(session, comment.post_id, viewer, bare=True)
    except NotFound as error:
        raise NotFound("No such comment.") from error
    return await _page(session, post_id=comment.post_id, parent_id=comment.id, pager=pager)


async def delete(session: AsyncSession, *, comment_id: uuid.UUID, user: User) -> None:
    comment, post = await _visible_comment(session, comment_id, user)
    # The comment's author or the owner of the post it is on.
    authorize(
        comment, user, allow=lambda c, u: u.id in (c.author_id, post.author_id), what="comment"
    )
    comment.deleted_at = utcnow()
    await session.flush()
