import uuid
from datetime import datetime

from sqlmodel import Field

from service.kit.schemas import RequestModel, ResponseModel
from service.users.schemas import UserPublic


class CommentCreate(RequestModel):
    body: str = Field(min_length=1, max_length=10_000)
    parent_id: uuid.UUID | None = None


class CommentPublic(ResponseModel):
    """A deleted comment that still has replies keeps its place: body and author are hidden."""

    id: uuid.UUID
    post_id: int
    parent_id: uuid.UUID | None
    body: str | None
    author: UserPublic | None
    deleted: bool
    reply_count: int
    created_at: datetime


class CommentThread(CommentPublic):
    """A comment with its replies, nested as deep as asked (`replies` is empty below that)."""

    replies: list["CommentThread"]
