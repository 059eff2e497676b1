"""Revisions of a post: the owner and moderators read them; the owner restores one (a new
edit, through posts/editing.py). Anyone else is told the post does not exist. Never commits."""

from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.errors import Forbidden, NotFound
from service.kit.pagination import Page, Pager
from service.kit.preconditions import Precondition
from service.moderation import service as moderation
from service.posts import editing
from service.posts import repository as posts
from service.posts import service as post_rules
from service.posts.events import Publisher
from service.posts.models import Post
from service.posts.revisions import repository
from service.posts.revisions.repository import RevisionRow
from service.posts.revisions.schemas import RevisionPublic, RevisionSummary
from service.posts.schemas import PostPublic, PostUpdate
from service.users.models import User
from service.users.schemas import UserPublic

NO_REVISION = NotFound("No such revision.")
"""What the routes declare (the post's own 404 is declared by its path parameter's route)."""
NOT_YOURS = Forbidden("You may not change this post.")


def _readable(post: Post | None, user: User) -> Post:
    """The post when `user` owns it or moderates; otherwise it does not exist for them."""
    if post is None or not (post.author_id == user.id or moderation.may_moderate(user)):
        raise NotFound("No such post.")
    return post


def _editor(row: RevisionRow) -> UserPublic:
    return UserPublic(
        id=row["editor_id"],
        username=row["editor_username"],
        display_name=row["editor_display_name"],
        created_at=row["editor_created_at"],
    )


async def list_revisions(
    session: AsyncSession, *, post_id: int, user: User, pager: Pager
) -> Page[RevisionSummary]:
    _readable(await posts.get(session, post_id, bare=True), user)
    rows = await repository.page(
        session, post_id, after=pager.after(repository.NEWEST), limit=pager.limit
    )
    items, next_cursor = pager.page(rows, repository.NEWEST)
    summaries = [
        RevisionSummary(
            number=row["number"],
            title=row["title"],
            excerpt=row["excerpt"],
            edited_at=row["edited_at"],
            editor=_editor(row),
        )
        for row in items
    ]
    return Page(items=summaries, next_cursor=next_cursor)


async def read_revision(
    session: AsyncSession, *, post_id: int, number: int, user: User
) -> RevisionPublic:
    _readable(await posts.get(session, post_id, bare=True), user)
    row = await repository.one(session, post_id, number)
    if row is None:
        raise NotFound("No such revision.")
    return _public(row)


def _public(row: RevisionRow) -> RevisionPublic:
    return RevisionPublic(
        post_id=row["post_id"],
        number=row["number"],
        title=row["title"],
        body=row["body"],
        tags=list(row["tags"]),
        meta=row["meta"],
        edited_at=row["edited_at"],
        editor=_editor(row),
    )


async def restore(
    session: AsyncSession,
    publisher: Publisher,
    *,
    post_id: int,
    number: int,
    user: User,
    precondition: Precondition,
) -> PostPublic:
    """The owner brings revision `number` back as a new edit, which records the current
    content as a revision too (a moderator reads revisions but may not restore: 403)."""
    post = _readable(await posts.get(session, post_id), user)
    if post.author_id != user.id:
        raise Forbidden("You may not change this post.")
    post_rules.check_precondition(post, precondition)
    row = await repository.one(session, post_id, number)
    if row is None:
        raise NotFound("No such revision.")
    data = PostUpdate.model_validate(
        {"title": row["title"], "body": row["body"], "tags": row["tags"], "metadata": row["meta"]}
    )
    return await editing.apply(session, publisher, post, editor=user, data=data, record=True)
