from datetime import datetime

from sqlalchemy import CheckConstraint, Index
from sqlmodel import Field, Relationship, SQLModel

from service.kit.model_base import UTCDateTime, cascade_fk, utcnow
from service.users.models import User


class Follow(SQLModel, table=True):
    """Association object user -> user carrying `followed_at`."""

    __tablename__ = "follows"
    __table_args__ = (
        CheckConstraint("follower_id <> followee_id", name="no_self_follow"),
        # Keyset pages: followers of X and who X follows, newest first, tie-break on the other id.
        Index("ix_follows_followee_id_followed_at", "followee_id", "followed_at", "follower_id"),
        Index("ix_follows_follower_id_followed_at", "follower_id", "followed_at", "followee_id"),
    )

    follower_id: int = Field(sa_column=cascade_fk("users.id", primary_key=True))
    followee_id: int = Field(sa_column=cascade_fk("users.id", primary_key=True))
    followed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

    follower: User = Relationship(  # lazy="raise" in sa_relationship_kwargs
        sa_relationship_kwargs={"lazy": "raise", "foreign_keys": "[Follow.follower_id]"}
    )
    followee: User = Relationship(  # lazy="raise" in sa_relationship_kwargs
        sa_relationship_kwargs={"lazy": "raise", "foreign_keys": "[Follow.followee_id]"}
    )
