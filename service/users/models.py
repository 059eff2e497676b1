from typing import TYPE_CHECKING

from sqlmodel import Field, Relationship

from service.core.model_base import BigIntId, TimestampMixin

if TYPE_CHECKING:
    from service.posts.models import Post


class User(TimestampMixin, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    username: str = Field(max_length=32, unique=True)
    email: str = Field(max_length=320, unique=True)
    password_hash: str = Field(max_length=255)
    display_name: str | None = Field(default=None, max_length=64)
    # Bumped on password change: tokens carrying an older value stop working.
    token_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})

    posts: list["Post"] = Relationship(
        back_populates="author", passive_deletes="all", sa_relationship_kwargs={"lazy": "raise"}
    )
