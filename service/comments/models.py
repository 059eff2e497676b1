import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Optional

from sqlalchemy import Column, ColumnElement, Index, Table, Text, Uuid, exists, func, select
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import column_property
from sqlmodel import Field, Relationship, col

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
    # The thread, both ways (self-referential: `remote_side` names the parent's side). Never
    # loaded implicitly: `selectinload(Comment.replies, recursion_depth=n)` loads n levels.
    parent: Optional["Comment"] = Relationship(  # lazy="raise" (below)
        back_populates="replies",
        sa_relationship_kwargs={"lazy": "raise", "remote_side": "Comment.id"},
    )
    replies: list["Comment"] = Relationship(  # lazy="raise" (below)
        back_populates="parent",
        sa_relationship_kwargs={"lazy": "raise", "order_by": "Comment.id", "passive_deletes": True},
    )

    if TYPE_CHECKING:  # mapped below, after the class (pydantic takes no descriptors here)
        reply_count: ClassVar[int]
        deleted: ClassVar[bool]


def _shown_replies() -> Any:
    """Replies that a thread shows: live ones, and deleted ones that still hold replies.

    Table aliases, not `aliased(Comment)`: that would configure the mappers at import time,
    before every model is imported."""
    comments: Table = Comment.__table__  # type: ignore[attr-defined]
    reply, below = comments.alias("reply"), comments.alias("below")
    holds_replies = exists().where(below.c.parent_id == reply.c.id)
    return (
        select(func.count())
        .where(reply.c.parent_id == comments.c.id)
        .where(reply.c.deleted_at.is_(None) | holds_replies)
        .correlate_except(reply, below)
        .scalar_subquery()
    )


def _is_deleted(comment: Comment) -> bool:
    return comment.deleted_at is not None


def _is_deleted_sql(cls: type[Comment]) -> ColumnElement[bool]:
    return col(cls.deleted_at).is_not(None)


# A hybrid: `comment.deleted` on a loaded row, `Comment.deleted` (IS NOT NULL) in a query.
Comment.deleted = hybrid_property(_is_deleted).expression(_is_deleted_sql)  # type: ignore[assignment]

# Computed in SQL, with the row that needs it (a correlated sub-select), never assembled in
# Python. Deferred and raiseload: it costs nothing unless a query asks for it with `undefer`.
Comment.reply_count = column_property(  # type: ignore[assignment]
    _shown_replies(), deferred=True, raiseload=True
)
