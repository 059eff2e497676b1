from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import JSON, CheckConstraint, Column, Index, Integer, String, Text, literal_column
from sqlalchemy import Enum as SAEnum
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, Relationship, SQLModel

from service.kit.model_base import (
    BigIntId,
    SoftDeleteMixin,
    TimestampMixin,
    UTCDateTime,
    cascade_fk,
    utcnow,
)
from service.tags.models import PostTag, Tag
from service.users.models import User

if TYPE_CHECKING:
    from service.posts.schemas import PostCreate


class PostStatus(StrEnum):
    draft = "draft"
    published = "published"
    scheduled = "scheduled"


JsonDocument = JSON().with_variant(JSONB(), "postgresql")

SLUG_MAX_LENGTH = 220
EXCERPT_LENGTH = 280


def excerpt_of(body: str) -> str:
    """What the backfill computes in SQL (`substr(body, 1, 280)`), for rows written now."""
    return body[:EXCERPT_LENGTH]


LIVE = "status = 'published' AND deleted_at IS NULL"
"""What a partial index of the posts everyone may see covers (a constant: plans match it)."""

SCHEDULED = "status = 'scheduled'"
"""What the partial index of the due scan covers (posts/scheduling): only posts still waiting."""


def new_row(author_id: int, data: "PostCreate", now: datetime) -> dict[str, Any]:
    """The columns of a new post from a create request (the slug is the caller's to choose)."""
    return {
        "author_id": author_id,
        "title": data.title,
        "body": data.body,
        "excerpt": excerpt_of(data.body),
        "status": data.status,
        "publish_at": data.publish_at,
        "metadata": data.meta,
        "created_at": now,
        "updated_at": now,
    }


# version_id_col needs the Column object itself, so it is declared once here.
_version = Column("version", Integer, nullable=False, server_default="1")


class Post(TimestampMixin, SoftDeleteMixin, table=True):
    __tablename__ = "posts"
    __table_args__ = (
        CheckConstraint("like_count >= 0", name="like_count_non_negative"),
        # A publication time exactly when the post waits for one.
        CheckConstraint(
            "(status = 'scheduled') = (publish_at IS NOT NULL)", name="publish_at_iff_scheduled"
        ),
        Index("ix_posts_created_at_id", "created_at", "id"),
        Index("ix_posts_author_id_created_at", "author_id", "created_at"),
        Index("ix_posts_like_count_id", "like_count", "id"),
        # The home feed's per-author merge (feed/queries.py): each author's newest live posts,
        # read from the index alone.
        Index(
            "ix_posts_live_author_id_created_at_id",
            "author_id",
            "created_at",
            "id",
            postgresql_where=literal_column(LIVE),
            sqlite_where=literal_column(LIVE),
        ),
        # The due scan of the job worker (posts/scheduling): the earliest waiting post first.
        Index(
            "ix_posts_scheduled_publish_at",
            "publish_at",
            postgresql_where=literal_column(SCHEDULED),
            sqlite_where=literal_column(SCHEDULED),
        ),
        # PostgreSQL-only objects (not modelled, see migrations/env.py PG_ONLY):
        # `search_vector` generated tsvector + GIN, GIN (jsonb_path_ops) on `metadata`.
    )
    # Optimistic locking: every UPDATE checks and bumps `version`.
    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": _version}

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    author_id: int = Field(sa_column=cascade_fk("users.id"))
    title: str = Field(max_length=200)
    # Set once at insert by the posts service (service.posts.slugs); stable after.
    slug: str | None = Field(
        default=None, sa_column=Column(String(SLUG_MAX_LENGTH), nullable=False, unique=True)
    )
    body: str = Field(sa_type=Text)
    # The body's first EXCERPT_LENGTH characters, for readers that do not need the whole body.
    # Nullable until the backfill (migrations b7e0a1c4d2f9) has run everywhere (docs/deploy.md).
    excerpt: str | None = Field(
        default=None, sa_column=Column(String(EXCERPT_LENGTH), nullable=True)
    )
    status: PostStatus = Field(
        sa_column=Column(
            SAEnum(PostStatus, name="status", native_enum=False, length=16, create_constraint=True),
            nullable=False,
        )
    )
    # When a `scheduled` post becomes `published` (the job worker); NULL for any other status.
    publish_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    like_count: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    version: int = Field(default=1, sa_column=_version)
    meta: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column("metadata", JsonDocument, nullable=False)
    )

    author: User = Relationship(back_populates="posts", sa_relationship_kwargs={"lazy": "raise"})
    tags: list[Tag] = Relationship(  # lazy="raise" in sa_relationship_kwargs
        link_model=PostTag,
        sa_relationship_kwargs={"lazy": "raise", "order_by": "Tag.name", "passive_deletes": True},
    )


class PostLike(SQLModel, table=True):
    """One row per (post, user): the composite key makes a like idempotent."""

    __tablename__ = "post_likes"

    post_id: int = Field(sa_column=cascade_fk("posts.id", primary_key=True))
    user_id: int = Field(sa_column=cascade_fk("users.id", primary_key=True, index=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
