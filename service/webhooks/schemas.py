"""Requests and answers of the webhook API."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field

from service.kit.schemas import Omittable, RequestModel, ResponseModel


class EventType(StrEnum):
    post_published = "post.published"
    comment_created = "comment.created"
    follower_added = "follower.added"
    post_liked = "post.liked"


PING = "webhook.ping"
"""The event a `POST .../test` sends (never subscribed to)."""


def _distinct(events: list[EventType]) -> list[EventType]:
    return sorted(set(events), key=list(EventType).index)


Url = Annotated[
    str,
    Field(
        min_length=8,
        max_length=2048,
        description="http or https, no credentials; its host must resolve to public addresses",
        examples=["https://hooks.example.com/inkwell"],
    ),
]
Events = Annotated[
    list[EventType],
    Field(min_length=1, max_length=len(EventType), description="what to send"),
    AfterValidator(_distinct),
]
Description = Annotated[str, Field(max_length=500)]


class EndpointCreate(RequestModel):
    url: Url
    events: Events
    description: Description | None = None


class EndpointUpdate(RequestModel):
    url: Omittable[Url] = None
    events: Omittable[Events] = None
    description: Description | None = None
    enabled: Omittable[bool] = Field(
        default=None, description="true re-enables an endpoint that was disabled for failing"
    )


class EndpointPublic(ResponseModel):
    id: int
    url: str
    events: list[str]
    description: str | None
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime


class EndpointCreated(EndpointPublic):
    secret: str = Field(
        description="`whsec_` + base64: the signing secret, shown only in this answer",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class AttemptPublic(ResponseModel):
    number: int
    outcome: str = Field(
        description="sending (cut short: no outcome recorded), succeeded, failed, timeout,"
        " refused (the address is not allowed) or error (no HTTP answer)"
    )
    response_code: int | None
    duration_ms: int | None
    error: str | None
    started_at: datetime


class DeliveryPublic(ResponseModel):
    id: int
    event_type: str
    message_id: str = Field(description="the `webhook-id` header (the same on every attempt)")
    status: str = Field(description="pending, succeeded or failed (retries ran out)")
    attempts: int
    response_code: int | None
    duration_ms: int | None
    last_error: str | None
    next_attempt_at: datetime | None = Field(description="the next retry, while pending")
    created_at: datetime
    finished_at: datetime | None
    attempt_log: list[AttemptPublic] = Field(description="every attempt, oldest first")
