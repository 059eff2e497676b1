"""The `GET /posts` filter query parameters, parsed once for every route that lists posts."""

import re
from typing import Annotated

from fastapi import Depends, Query

from service.kit.errors import BadRequest
from service.kit.schemas import Id, IdQuery, UtcDateTime
from service.posts.models import PostStatus
from service.posts.schemas import PostFilter
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


async def post_filter(
    author_id: IdQuery = None,
    status_: Annotated[PostStatus, Query(alias="status")] = PostStatus.published,
    created_after: UtcDateTime | None = None,
    created_before: UtcDateTime | None = None,
    tag: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=200, description="full text")] = None,
    meta: Annotated[str | None, Query(max_length=300, description="key:value")] = None,
    commented_by: Annotated[Id | None, Query(description="a user id")] = None,
) -> PostFilter:
    """Drafts (`status=draft`) are only ever the signed-in viewer's own (the service decides)."""
    return PostFilter(
        author_id=author_id,
        status=status_,
        created_after=created_after,
        created_before=created_before,
        tag=None if tag is None else _parse_tag(tag),
        q=q,
        meta=None if meta is None else _parse_meta(meta),
        commented_by=commented_by,
    )


PostFilterDep = Annotated[PostFilter, Depends(post_filter)]
