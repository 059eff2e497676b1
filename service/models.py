"""Every table model, imported so that the metadata is complete for Alembic and the mapper."""

from sqlmodel import SQLModel

from service.bookmarks.models import Bookmark
from service.comments.models import Comment
from service.follows.models import Follow
from service.idempotency.models import IdempotencyKey
from service.jobs.models import OutboxEvent
from service.moderation.models import ModerationEntry
from service.notifications.models import Notification
from service.posts.models import Post, PostLike
from service.posts.revisions.models import PostRevision
from service.tags.models import PostTag, Tag
from service.users.models import Profile, User
from service.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

metadata = SQLModel.metadata

__all__ = [
    "Bookmark",
    "Comment",
    "Follow",
    "IdempotencyKey",
    "ModerationEntry",
    "Notification",
    "OutboxEvent",
    "Post",
    "PostLike",
    "PostRevision",
    "PostTag",
    "Profile",
    "Tag",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "metadata",
]
