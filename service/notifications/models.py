from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from service.kit.model_base import BigIntId, UTCDateTime, cascade_fk, utcnow
from service.posts.events import POST_PUBLISHED


class Notification(SQLModel, table=True):
    """ "A post you may want to read": one row per (event, recipient), written by a job."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_id_created_at_id", "user_id", "created_at", "id"),
        # The ON DELETE CASCADE from posts looks rows up by post_id.
        Index("ix_notifications_post_id", "post_id"),
        Index("ix_notifications_actor_id", "actor_id"),  # ON DELETE CASCADE from users
        # A job re-run (at-least-once delivery) never notifies anyone twice of one event.
        UniqueConstraint("event_id", "user_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    user_id: int = Field(sa_column=cascade_fk("users.id"))
    post_id: int | None = Field(default=None, sa_column=cascade_fk("posts.id", nullable=True))
    """None for a notice about the account itself (a webhook endpoint disabled)."""
    actor_id: int | None = Field(default=None, sa_column=cascade_fk("users.id", nullable=True))
    event_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    type: str = Field(
        default=POST_PUBLISHED,
        sa_column=Column(String(32), nullable=False, server_default=POST_PUBLISHED),
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
