import uuid
from datetime import datetime

from sqlalchemy import Column, Index, Text, Uuid
from sqlmodel import Field, Relationship

from service.kit.ids import uuid7
from service.kit.model_base import SoftDeleteMixin, UTCDateTime, cascade_fk, utcnow
from service.users.models import User


class Comment(SoftDeleteMixin, table=True):
    """Threaded comments keyed by a time-ordered UUID (keyset pages sort by `id` alone)."""

    __tablename__ = "comments"
    __table_args__ = (
        # Top-level page of a post: WHERE post_id = ? AND parent_id IS NULL ORDER BY id.
        Index("ix_comments_post_id_parent_id_id", "post_id", "parent_id", "id"),
        Index("ix_comments_parent_id_id", "parent_id", "id"),
        Index("ix_comments_author_id", "author_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid7, sa_column=Column(Uuid, primary_key=True))
    post_id: int = Field(sa_column=cascade_fk("posts.id"))
    author_id: int = Field(sa_column=cascade_fk("users.id"))
    # Removing a comment row (cascade from its author) removes the thread below it.
    parent_id: uuid.UUID | None = Field(
        default=None,
        sa_column=cascade_fk("comments.id", type_=Uuid, nullable=True),
    )
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

    author: User = Relationship(sa_relationship_kwargs={"lazy": "raise"})
