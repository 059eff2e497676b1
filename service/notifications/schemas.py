from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from service.kit.schemas import Id, RequestModel, ResponseModel


class Actor(ResponseModel):
    id: int
    username: str
    display_name: str | None


class NotificationPublic(ResponseModel):
    id: int
    type: str
    actor: Actor | None
    """Who caused it (None only for notifications older than this field, or a deleted user)."""
    post_id: int | None
    """None for `webhook.disabled` (an endpoint of yours failed for days and was disabled)."""
    created_at: datetime
    read_at: datetime | None


class UnreadCount(ResponseModel):
    count: int


def _not_a_bool(value: Any) -> Any:
    """JSON `true` is not an id (lax ints would read it as 1); `2074.0` still is one."""
    if isinstance(value, bool):
        raise ValueError("must be an integer")
    return value


class MarkRead(RequestModel):
    # `Id` keeps the bounds integers in the schema (Field(le=...) here wrote 9.2e18, a float
    # above BIGINT that generators then sent as a "valid" id).
    up_to_id: Annotated[Id, BeforeValidator(_not_a_bool)] | None = Field(
        default=None, description="default: all of them"
    )
