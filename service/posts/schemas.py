import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import field_validator, model_validator
from sqlmodel import Field

from service.kit.model_base import utcnow
from service.kit.schemas import (
    Omittable,
    RequestModel,
    ResponseModel,
    UtcInstant,
    json_depth,
    storable_text,
)
from service.posts.models import PostStatus
from service.posts.slugs import SLUG_PATTERN
from service.tags.schemas import MAX_TAGS_PER_POST, TagInput, normalise_tags
from service.users.schemas import UserPublic

METADATA_MAX_BYTES = 16 * 1024
METADATA_MAX_DEPTH = 5


def _check_metadata(value: dict[str, Any]) -> dict[str, Any]:
    # Depth first, without recursion: json.dumps of a deep document would hit RecursionError.
    if json_depth(value, METADATA_MAX_DEPTH) > METADATA_MAX_DEPTH:
        raise ValueError(f"metadata is nested deeper than {METADATA_MAX_DEPTH} levels")
    storable_text(value)  # NaN / Infinity / NUL, before json.dumps sees them
    if len(json.dumps(value, separators=(",", ":"), allow_nan=False)) > METADATA_MAX_BYTES:
        raise ValueError(f"metadata is larger than {METADATA_MAX_BYTES} bytes")
    return value


PUBLISH_AT = (
    "When a `scheduled` post is published (a future time, UTC when no offset is given); "
    "only with `status: scheduled`"
)


def check_schedule(status: PostStatus | None, publish_at: datetime | None) -> None:
    """A `publish_at` only for `scheduled`, and always in the future (ValueError: a 422)."""
    if publish_at is not None and status not in (None, PostStatus.scheduled):
        raise ValueError("publish_at is only for status 'scheduled'")
    if publish_at is not None and publish_at <= utcnow():
        raise ValueError("publish_at must be in the future")


class PostBase(RequestModel):
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=100_000)


class PostCreate(PostBase):
    status: PostStatus = PostStatus.draft
    # `metadata` is reserved on SQLModel classes, so the attribute is `meta`.
    meta: dict[str, Any] = Field(default_factory=dict, validation_alias="metadata")
    tags: list[TagInput] = Field(default_factory=list, max_length=MAX_TAGS_PER_POST)
    # Derived from the title when absent; a taken explicit slug is a conflict.
    slug: str | None = Field(default=None, max_length=200, schema_extra={"pattern": SLUG_PATTERN})
    publish_at: UtcInstant | None = Field(default=None, description=PUBLISH_AT)

    _metadata_bounds = field_validator("meta")(_check_metadata)
    _tags = field_validator("tags")(normalise_tags)

    @model_validator(mode="after")
    def _schedule(self) -> "PostCreate":
        check_schedule(self.status, self.publish_at)
        if self.status is PostStatus.scheduled and self.publish_at is None:
            raise ValueError("a scheduled post needs publish_at")
        return self


class PostUpdate(RequestModel):
    """A partial update: omitted fields stay as they are; `null` is a 422 (nothing clears)."""

    title: Omittable[str] = Field(default=None, min_length=1, max_length=200)
    body: Omittable[str] = Field(default=None, min_length=1, max_length=100_000)
    status: Omittable[PostStatus] = None
    meta: Omittable[dict[str, Any]] = Field(default=None, validation_alias="metadata")
    tags: Omittable[list[TagInput]] = Field(
        default=None, max_length=MAX_TAGS_PER_POST, description="replaces all tags"
    )
    publish_at: Omittable[UtcInstant] = Field(
        default=None, description=PUBLISH_AT + " (moves the time of a scheduled post)"
    )

    _metadata_bounds = field_validator("meta")(lambda v: v if v is None else _check_metadata(v))
    _tags = field_validator("tags")(lambda v: v if v is None else normalise_tags(v))

    @model_validator(mode="after")
    def _schedule(self) -> "PostUpdate":
        check_schedule(self.status, self.publish_at)
        return self


class PostPublic(ResponseModel):
    id: int
    slug: str
    title: str
    body: str
    status: PostStatus
    publish_at: datetime | None = Field(
        default=None, description="When a `scheduled` post will be published; null otherwise"
    )
    meta: dict[str, Any] = Field(serialization_alias="metadata")
    like_count: int
    version: int
    created_at: datetime
    updated_at: datetime
    author: UserPublic
    tags: list[str]
    bookmarked: bool = Field(
        description="Whether you bookmarked the post: on `GET /posts`, `GET /posts/{id}`, "
        "`GET /users/me/feed` and `GET /users/me/bookmarks` with a token; always false without "
        "one and on the other reads"
    )


class PostSort(StrEnum):
    newest = "-created_at"
    oldest = "created_at"
    most_liked = "-like_count"


@dataclass(frozen=True)
class PostFilter:
    """What a listing of posts is narrowed to (`GET /posts` query parameters)."""

    author_id: int | None = None
    status: PostStatus = PostStatus.published
    created_after: datetime | None = None
    created_before: datetime | None = None
    tag: str | None = None
    q: str | None = None
    meta: tuple[str, str] | None = None
    commented_by: int | None = None


class LikeState(ResponseModel):
    post_id: int
    liked: bool
    like_count: int


class BulkCreate(RequestModel):
    # Items are validated one by one by the service, so one bad item is reported, not a 422.
    items: list[Any] = Field(min_length=1, max_length=1000)


class BulkError(ResponseModel):
    index: int
    detail: str


class BulkResult(ResponseModel):
    created: list[int]
    errors: list[BulkError]


class BulkStatusItem(RequestModel):
    """One post of a bulk status change; `version` (optional) must still be the current one."""

    id: int = Field(ge=1, le=2**63 - 1)
    status: PostStatus
    version: int | None = Field(default=None, ge=1)

    @field_validator("status")
    @classmethod
    def _not_scheduled(cls, status: PostStatus) -> PostStatus:
        if status is PostStatus.scheduled:
            raise ValueError("schedule a post one at a time (PATCH /posts/{id} with publish_at)")
        return status


class BulkDeleteItem(RequestModel):
    id: int = Field(ge=1, le=2**63 - 1)
    version: int | None = Field(default=None, ge=1)


class BulkChange(RequestModel):
    # Validated one by one by the service: a bad item is reported by index, not a 422.
    items: list[Any] = Field(min_length=1, max_length=1000)


class BulkChangeResult(ResponseModel):
    """The ids changed, and `{index, detail}` for every item that was not."""

    changed: list[int]
    errors: list[BulkError]
