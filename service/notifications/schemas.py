from datetime import datetime

from pydantic import Field

from service.kit.schemas import MAX_BIGINT, RequestModel, ResponseModel


class Actor(ResponseModel):
    id: int
    username: str
    display_name: str | None


class NotificationPublic(ResponseModel):
    id: int
    type: str
    actor: Actor | None
    """Who caused it (None only for notifications older than this field, or a deleted user)."""
    post_id: int
    created_at: datetime
    read_at: datetime | None


class UnreadCount(ResponseModel):
    count: int


class MarkRead(RequestModel):
    up_to_id: int | None = Field(
        default=None, ge=1, le=MAX_BIGINT, description="default: every notification"
    )
