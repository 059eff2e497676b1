from datetime import datetime

from sqlmodel import Field

from service.core.schemas import RequestModel, ResponseModel

USERNAME_PATTERN = r"^[a-z0-9_]{3,32}$"
EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"


class UserCreate(RequestModel):
    username: str = Field(min_length=3, max_length=32, schema_extra={"pattern": USERNAME_PATTERN})
    email: str = Field(max_length=320, schema_extra={"pattern": EMAIL_PATTERN})
    password: str = Field(min_length=8, max_length=128)
    display_name: str | None = Field(default=None, min_length=1, max_length=64)


class UserUpdate(RequestModel):
    email: str | None = Field(default=None, max_length=320, schema_extra={"pattern": EMAIL_PATTERN})
    display_name: str | None = Field(default=None, min_length=1, max_length=64)
    password: str | None = Field(default=None, min_length=8, max_length=128)


class UserPublic(ResponseModel):
    """What anyone may see: never the email, never the hash."""

    id: int
    username: str
    display_name: str | None
    created_at: datetime


class UserPrivate(UserPublic):
    email: str


class Token(ResponseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class ProfileUpdate(RequestModel):
    """PUT semantics: the whole profile is replaced (omitted fields become empty)."""

    bio: str = Field(default="", max_length=2000)
    location: str = Field(default="", max_length=100)
    website: str = Field(default="", max_length=200, schema_extra={"pattern": r"^(https?://\S+)?$"})
    links: dict[str, str] = Field(default_factory=dict, max_length=20)


class ProfilePublic(ResponseModel):
    user_id: int
    bio: str
    location: str
    website: str
    links: dict[str, str]
