from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from service.kit.model_base import BigIntId, cascade_fk

TAG_MAX_LENGTH = 32


class Tag(SQLModel, table=True):
    __tablename__ = "tags"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    name: str = Field(sa_column=Column(String(TAG_MAX_LENGTH), nullable=False, unique=True))


class PostTag(SQLModel, table=True):
    """Link table of the posts <-> tags many-to-many; the composite key forbids duplicates."""

    __tablename__ = "post_tags"

    post_id: int = Field(sa_column=cascade_fk("posts.id", primary_key=True))
    # The key's leading column serves post -> tags; this index serves tag -> posts.
    tag_id: int = Field(sa_column=cascade_fk("tags.id", primary_key=True, index=True))
