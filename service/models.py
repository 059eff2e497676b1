"""Every table model, imported so that the metadata is complete for Alembic and the mapper."""

from sqlmodel import SQLModel

from service.core.idempotency import IdempotencyKey
from service.posts.models import Post
from service.users.models import User

metadata = SQLModel.metadata

__all__ = ["IdempotencyKey", "Post", "User", "metadata"]
