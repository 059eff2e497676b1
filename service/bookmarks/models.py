from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from service.kit.model_base import UTCDateTime, cascade_fk, utcnow


class Bookmark(SQLModel, table=True):
    """One row per (user, post): the composite key makes a bookmark idempotent."""

    __tablename__ = "bookmarks"
    __table_args__ = (
        # The reading list: a user's bookmarks, most recent first, tie-break on the post.
        Index("ix_bookmarks_user_id_bookmarked_at", "user_id", "bookmarked_at", "post_id"),
    )

    user_id: int = Field(sa_column=cascade_fk("users.id", primary_key=True))
    # Indexed for the cascade when a post row goes (a user's account deletion).
    post_id: int = Field(sa_column=cascade_fk("posts.id", primary_key=True, index=True))
    bookmarked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
