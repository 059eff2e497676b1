import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import field_validator
from sqlmodel import Field

from service.core.schemas import RequestModel, ResponseModel
from service.posts.models import PostStatus
from service.users.schemas import UserPublic

METADATA_MAX_BYTES = 16 * 1024
METADATA_MAX_DEPTH = 5


def _check_metadata(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value, separators=(",", ":"))) > METADATA_MAX_BYTES:
        raise ValueError(f"metadata is larger than {METADATA_MAX_BYTES} bytes")
    if _depth(value) > METADATA_MAX_DEPTH:
        raise ValueError(f"metadata is nested deeper than {METADATA_MAX_DEPTH} levels")
    return value


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


class PostBase(RequestModel):
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=100_000)


class PostCreate(PostBase):
    status: PostStatus = PostStatus.draft
    # `metadata` is reserved on SQLModel classes, so the attribute is `meta`.
    meta: dict[str, Any] = Field(default_factory=dict, validation_alias="metadata")

    _metadata_bounds = field_validator("meta")(_check_metadata)


class PostUpdate(RequestModel):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    body: str | None = Field(default=None, min_length=1, max_length=100_000)
    status: PostStatus | None = None
    meta: dict[str, Any] | None = Field(default=None, validation_alias="metadata")

    _metadata_bounds = field_validator("meta")(lambda v: v if v is None else _check_metadata(v))


class PostPublic(ResponseModel):
    id: int
    title: str
    body: str
    status: PostStatus
    meta: dict[str, Any] = Field(serialization_alias="metadata")
    like_count: int
    version: int
    created_at: datetime
    updated_at: datetime
    author: UserPublic


class PostSort(StrEnum):
    newest = "-created_at"
    oldest = "created_at"
