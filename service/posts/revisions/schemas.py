from datetime import datetime
from typing import Any

from sqlmodel import Field

from service.kit.schemas import ResponseModel
from service.users.schemas import UserPublic


class RevisionSummary(ResponseModel):
    """One former state of a post in a listing: its title and the first 280 characters."""

    number: int
    title: str
    excerpt: str
    edited_at: datetime = Field(description="When an edit replaced this state")
    editor: UserPublic = Field(description="Who made that edit")


class RevisionPublic(ResponseModel):
    """A whole former state of a post's content."""

    post_id: int
    number: int
    title: str
    body: str
    tags: list[str]
    meta: dict[str, Any] = Field(serialization_alias="metadata")
    edited_at: datetime = Field(description="When an edit replaced this state")
    editor: UserPublic = Field(description="Who made that edit")
