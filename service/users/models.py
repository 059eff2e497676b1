from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Column, String, Text
from sqlalchemy import Enum as SAEnum
from sqlmodel import Field, Relationship

from service.kit.model_base import BigIntId, TimestampMixin, cascade_fk

if TYPE_CHECKING:
    from service.posts.models import Post


class Role(StrEnum):
    """What a user may do beyond their own content: moderators soft-delete and restore anyone's
    posts and comments; admins also set roles."""

    member = "member"
    moderator = "moderator"
    admin = "admin"


class User(TimestampMixin, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    username: str = Field(max_length=32, unique=True)
    email: str = Field(max_length=320, unique=True)
    password_hash: str = Field(max_length=255)
    display_name: str | None = Field(default=None, max_length=64)
    # Bumped on password change: tokens carrying an older value stop working.
    token_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    role: Role = Field(
        default=Role.member,
        sa_column=Column(
            SAEnum(Role, name="role", native_enum=False, length=16, create_constraint=True),
            nullable=False,
            server_default=Role.member.value,
        ),
    )

    @property
    def moderates(self) -> bool:
        """May soft-delete and restore anyone's posts and comments."""
        return self.role in (Role.moderator, Role.admin)

    # passive_deletes="all": the database cascades (ON DELETE CASCADE); the ORM never loads
    # children to delete them one by one. Comments, likes and follows cascade the same way.
    posts: list["Post"] = Relationship(  # lazy="raise" in sa_relationship_kwargs
        back_populates="author", passive_deletes="all", sa_relationship_kwargs={"lazy": "raise"}
    )
    profile: "Profile" = Relationship(  # lazy="raise" in sa_relationship_kwargs
        back_populates="user",
        passive_deletes="all",
        sa_relationship_kwargs={"lazy": "raise", "uselist": False},
    )


class Profile(TimestampMixin, table=True):
    """One-to-one with users: the primary key is the user's id."""

    __tablename__ = "profiles"

    user_id: int = Field(sa_column=cascade_fk("users.id", primary_key=True))
    bio: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    location: str = Field(
        default="", sa_column=Column(String(100), nullable=False, server_default="")
    )
    website: str = Field(
        default="", sa_column=Column(String(200), nullable=False, server_default="")
    )
    links: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))

    user: User = Relationship(back_populates="profile", sa_relationship_kwargs={"lazy": "raise"})
