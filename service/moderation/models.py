from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Index, String
from sqlalchemy import Enum as SAEnum
from sqlmodel import Field, SQLModel

from service.kit.model_base import BigIntId, UTCDateTime, utcnow


class Action(StrEnum):
    post_delete = "post.delete"
    post_restore = "post.restore"
    comment_delete = "comment.delete"
    comment_restore = "comment.restore"
    role_set = "user.role"


class ModerationEntry(SQLModel, table=True):
    """One moderator action: who did what to which object, and when (an audit trail)."""

    __tablename__ = "moderation_log"
    __table_args__ = (
        Index("ix_moderation_log_at_id", "at", "id"),
        # The SET NULL on a user's deletion finds the rows by actor_id.
        Index("ix_moderation_log_actor_id", "actor_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    # NULL: done from the command line (`make admin`), or by a user since deleted (the entry
    # outlives its actor: an audit trail is not erased with the account).
    actor_id: int | None = Field(
        default=None,
        sa_column=Column(BigIntId, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    )
    action: Action = Field(
        sa_column=Column(
            SAEnum(
                Action,
                name="action",
                native_enum=False,
                length=32,
                create_constraint=True,
                values_callable=lambda e: [m.value for m in e],
            ),
            nullable=False,
        )
    )
    target_type: str = Field(sa_column=Column(String(16), nullable=False))
    target_id: str = Field(sa_column=Column(String(64), nullable=False))
    detail: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
