from datetime import datetime
from typing import Annotated

from fastapi import Form
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import StringConstraints
from sqlmodel import Field

from service.kit.schemas import FormText, Omittable, RequestModel, ResponseModel
from service.users.models import Role

USERNAME_PATTERN = r"^[a-z0-9_]{3,32}$"
# Explicit ranges, not `\s`: Python, Rust (pydantic-core) and ECMA-262 (JSON Schema clients)
# disagree on what `\s` matches (U+0085, U+001C..U+001F), and the schema is a contract.
_EMAIL_CHAR = r"[^@\x00-\x20\x7f-\xa0]"
EMAIL_PATTERN = rf"^{_EMAIL_CHAR}{{1,64}}@{_EMAIL_CHAR}+\.{_EMAIL_CHAR}+$"
# Not `\S` either (U+0085 is a space to Python and Rust, not to ECMA-262: found by schemathesis).
WEBSITE_PATTERN = r"^(https?://[^\x00-\x20\x7f-\xa0]+)?$"


class UserCreate(RequestModel):
    username: str = Field(min_length=3, max_length=32, schema_extra={"pattern": USERNAME_PATTERN})
    email: str = Field(max_length=320, schema_extra={"pattern": EMAIL_PATTERN})
    password: str = Field(min_length=8, max_length=128)
    display_name: str | None = Field(default=None, min_length=1, max_length=64)


class UserUpdate(RequestModel):
    """Omitted fields stay as they are. `display_name: null` clears the display name (it is
    optional); `email` and `password` cannot be cleared: `null` is a 422."""

    email: Omittable[str] = Field(
        default=None, max_length=320, schema_extra={"pattern": EMAIL_PATTERN}
    )
    display_name: str | None = Field(default=None, min_length=1, max_length=64)
    password: Omittable[str] = Field(default=None, min_length=8, max_length=128)


class UserPublic(ResponseModel):
    """What anyone may see: never the email, never the hash."""

    id: int
    username: str
    display_name: str | None
    created_at: datetime


class UserPrivate(UserPublic):
    email: str
    role: Role


class Token(ResponseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class LoginForm(OAuth2PasswordRequestForm):
    """The OAuth2 password form with every field length-bounded (argon2 never sees 1 MiB)."""

    def __init__(
        self,
        *,
        username: Annotated[str, FormText, Form(min_length=1, max_length=320)],
        password: Annotated[
            str,
            FormText,
            Form(min_length=1, max_length=128, json_schema_extra={"format": "password"}),
        ],
        # An empty field is a field not sent (HTML forms), so the schema allows "" too.
        grant_type: Annotated[str | None, Form(pattern="^(password)?$", max_length=8)] = None,
        scope: Annotated[str, FormText, Form(max_length=1024)] = "",
        # Never stored nor queried (the OAuth2 form's unused fields): bounded, not guarded.
        client_id: Annotated[str | None, Form(max_length=255)] = None,
        client_secret: Annotated[str | None, Form(max_length=255)] = None,
    ) -> None:
        super().__init__(
            grant_type=grant_type,
            username=username,
            password=password,
            scope=scope,
            client_id=client_id,
            client_secret=client_secret,
        )


class ProfileUpdate(RequestModel):
    """PUT semantics: the whole profile is replaced (omitted fields become empty)."""

    bio: str = Field(default="", max_length=2000)
    location: str = Field(default="", max_length=100)
    website: str = Field(default="", max_length=200, schema_extra={"pattern": WEBSITE_PATTERN})
    links: dict[
        Annotated[str, StringConstraints(max_length=64)],
        Annotated[str, StringConstraints(max_length=500)],
    ] = Field(default_factory=dict, max_length=20)


class ProfilePublic(ResponseModel):
    user_id: int
    bio: str
    location: str
    website: str
    links: dict[str, str]
