"""Who may delete and restore a post: its owner, or a moderator (whose action is logged)."""

from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.authz import authorize
from service.moderation import service as moderation
from service.moderation.models import Action
from service.posts import repository
from service.posts.models import Post, PostStatus
from service.users.models import User


def _allowed(post: Post, user: User) -> bool:
    return post.author_id == user.id or moderation.may_moderate(user)


def _visible(post: Post, user: User) -> bool:
    # A moderator sees any post to act on it; others see published posts and their own drafts.
    own = post.author_id == user.id
    return own or post.status == PostStatus.published or moderation.may_moderate(user)


async def get_moderatable(
    session: AsyncSession, post_id: int, user: User, *, include_deleted: bool = False
) -> Post:
    """The post, when `user` owns it or moderates; 404 when they may not know it, else 403."""
    post = await repository.get(session, post_id, include_deleted=include_deleted)
    # A deleted post exists only for its owner and moderators (restore): 404 for the rest.
    if post is not None and post.deleted_at is not None and not _allowed(post, user):
        post = None
    return authorize(post, user, allow=_allowed, visible=_visible, what="post")


def record_if_moderated(session: AsyncSession, post: Post, user: User, action: Action) -> None:
    """A log entry when the actor is not the author (the moderator power was used)."""
    if post.author_id != user.id:
        moderation.record(session, user, action, target_type="post", target_id=post.id)
