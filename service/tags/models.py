from sqlalchemy import Column, ForeignKey, String
from sqlmodel import Field, SQLModel

from service.core.model_base import BigIntId

TAG_MAX_LENGTH = 32


class Tag(SQLModel, table=True):
    __tablename__ = "tags"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    name: str = Field(sa_column=Column(String(TAG_MAX_LENGTH), nullable=False, unique=True))


class PostTag(SQLModel, table=True):
    """Link table of the posts <-> tags many-to-many; the composite key forbids duplicates."""

    __tablename__ = "post_tags"

    post_id: int = Field(
        sa_column=Column(
            BigIntId, ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True, nullable=False
        )
    )
    # The key's leading column serves post -> tags; this index serves tag -> posts.
    tag_id: int = Field(
        sa_column=Column(
            BigIntId,
            ForeignKey("tags.id", ondelete="CASCADE"),
            primary_key=True,
            nullable=False,
            index=True,
        )
    )
