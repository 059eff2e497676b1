"""The query parameters of the routes that list posts, as query models (validated in one
pydantic call each: docs/performance.md)."""

import re
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, Field

from service.kit.errors import BadRequest
from service.kit.pagination import PageQuery
from service.kit.schemas import Id, UtcDateTime
from service.posts.models import PostStatus
from service.posts.schemas import PostFilter, PostSort
from service.tags.schemas import normalise_tags

_META_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _parse_meta(meta: str) -> tuple[str, str]:
    key, sep, value = meta.partition(":")
    if not sep or not _META_KEY.match(key):
        raise BadRequest("meta must be key:value with a key of letters, digits, _ or -.")
    return key, value


def _parse_tag(tag: str) -> str:
    try:
        return normalise_tags([tag])[0]
    except ValueError as error:
        raise BadRequest(f"tag: {error}") from error


class PostFilterQuery(BaseModel):
    """The filters of `GET /posts` and of the export."""

    author_id: Id | None = None
    status: PostStatus = PostStatus.published
    created_after: UtcDateTime | None = None
    created_before: UtcDateTime | None = None
    tag: Annotated[str | None, Field(max_length=64)] = None
    q: Annotated[str | None, Field(min_length=1, max_length=200, description="full text")] = None
    meta: Annotated[str | None, Field(max_length=300, description="key:value")] = None
    commented_by: Annotated[Id | None, Field(description="a user id")] = None

    def to_filter(self) -> PostFilter:
        """Drafts (`status=draft`) are only ever the signed-in viewer's own (the service
        decides)."""
        return PostFilter(
            author_id=self.author_id,
            status=self.status,
            created_after=self.created_after,
            created_before=self.created_before,
            tag=None if self.tag is None else _parse_tag(self.tag),
            q=self.q,
            meta=None if self.meta is None else _parse_meta(self.meta),
            commented_by=self.commented_by,
        )


class PostListQuery(PageQuery, PostFilterQuery):
    """Every query parameter of `GET /posts`: the page, the filters and the sort."""

    sort: PostSort = PostSort.newest


PostFilterQueryDep = Annotated[PostFilterQuery, Query()]
PostListQueryDep = Annotated[PostListQuery, Query()]
