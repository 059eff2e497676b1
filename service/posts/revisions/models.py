from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, String, Text
from sqlmodel import Field, SQLModel

from service.kit.model_base import BigIntId, UTCDateTime, cascade_fk
from service.posts.models import JsonDocument


class PostRevision(SQLModel, table=True):
    """A former state of a post's content: what an edit replaced, numbered 1, 2, ... per post.

    `edited_at` and `editor_id` are the edit that replaced this state (when, by whom)."""

    __tablename__ = "post_revisions"

    post_id: int = Field(sa_column=cascade_fk("posts.id", primary_key=True))
    number: int = Field(sa_column=Column(BigIntId, primary_key=True, autoincrement=False))
    title: str = Field(sa_column=Column(String(200), nullable=False))
    body: str = Field(sa_type=Text)
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    meta: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column("metadata", JsonDocument, nullable=False)
    )
    edited_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    editor_id: int = Field(sa_column=cascade_fk("users.id", index=True))
