"""Aggregates across domains: one statement of scalar subqueries, one round trip."""

from typing import Any

from sqlalchemy import func
from sqlalchemy import select as core_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.comments.models import Comment
from service.follows.models import Follow
from service.posts.models import Post, PostLike, PostStatus
from service.users.models import User


def _count(statement: Any) -> Any:
    return statement.scalar_subquery()


async def user_stats(session: AsyncSession, user_id: int) -> dict[str, int] | None:
    """None when the user does not exist. Soft-deleted posts and comments count for nothing
    (written out here: these are Core aggregates, which the ORM's soft-delete filter does not
    rewrite)."""
    live_post = (col(Post.status) == PostStatus.published) & col(Post.deleted_at).is_(None)
    posts = select(func.count()).select_from(Post).where(Post.author_id == user_id, live_post)
    comments = (
        select(func.count())
        .select_from(Comment)
        .join(Post, col(Post.id) == col(Comment.post_id))
        .where(col(Comment.author_id) == user_id, col(Comment.deleted_at).is_(None), live_post)
    )
    followers = select(func.count()).select_from(Follow).where(Follow.followee_id == user_id)
    following = select(func.count()).select_from(Follow).where(Follow.follower_id == user_id)
    likes = (
        select(func.count())
        .select_from(PostLike)
        .join(Post, col(Post.id) == col(PostLike.post_id))
        .where(Post.author_id == user_id, live_post)
    )
    # Core select: five columns is past sqlmodel's typed overloads.
    statement: Any = core_select(
        _count(posts).label("posts"),
        _count(comments).label("comments"),
        _count(followers).label("followers"),
        _count(following).label("following"),
        _count(likes).label("likes_received"),
    ).where(col(User.id) == user_id)
    row = (await session.exec(statement)).first()
    return None if row is None else dict(row._mapping)
