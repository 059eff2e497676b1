"""THE way to a PostPublic: from a row of the public columns read by label (queries.py), and
from a written entity, built the same way (so both hash to the same ETag)."""

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NotRequired, TypedDict, TypeVar, cast

from service.kit.http.routing import construct
from service.posts.models import Post, PostStatus
from service.posts.queries import PublicRow
from service.posts.schemas import PostPublic
from service.users.schemas import UserPublic


class PublicFields(TypedDict):
    """One post's public columns with its author flattened: the labels of
    queries.PUBLIC_COLUMNS."""

    id: int
    slug: str
    title: str
    body: str
    status: PostStatus
    publish_at: datetime | None
    meta: dict[str, Any]
    like_count: int
    version: int
    created_at: datetime
    updated_at: datetime
    author_id: int
    author_username: str
    author_display_name: str | None
    author_created_at: datetime
    tags: list[str]
    bookmarked: NotRequired[bool]


def _tags(value: Any) -> list[str]:
    """Sorted here, by code point, on every backend: the representation (and so its ETag) must
    not depend on the database's collation, nor differ from `of_entity`'s (a handful of names)."""
    if isinstance(value, str):  # SQLite's JSON array
        return sorted(json.loads(value))
    return sorted(value)


_STATUSES = {status.value: status for status in PostStatus}
"""The enum of a status read as text (the driver path), or as the enum (a StrEnum member is
equal to its value, so it finds itself)."""


Shown = TypeVar("Shown", bound=PostPublic)


def build(fields: PublicRow) -> PostPublic:
    """THE way to a PostPublic, from database rows and from entities alike."""
    return build_as(PostPublic, fields)


def build_as(model: type[Shown], fields: PublicRow, **extra: Any) -> Shown:
    """`build` as a PostPublic subclass with its `extra` fields (a bookmark's post)."""
    # construct: the values come from the database through typed columns, so validating them
    # again would only cost time.
    author = construct(
        UserPublic,
        {
            "id": fields["author_id"],
            "username": fields["author_username"],
            "display_name": fields["author_display_name"],
            "created_at": fields["author_created_at"],
        },
    )
    return construct(
        model,
        {
            "id": fields["id"],
            "slug": fields["slug"],
            "title": fields["title"],
            "body": fields["body"],
            "status": _STATUSES[fields["status"]],
            "publish_at": fields["publish_at"],
            "meta": fields["meta"],
            "like_count": fields["like_count"],
            "version": fields["version"],
            "created_at": fields["created_at"],
            "updated_at": fields["updated_at"],
            "author": author,
            "tags": _tags(fields["tags"]),
            # Only the shapes of a signed-in reader select it (queries.BOOKMARKED).
            "bookmarked": bool(fields.get("bookmarked", False)),
            **extra,
        },
    )


def to_public(rows: Sequence[PublicRow]) -> list[PostPublic]:
    return [build(row) for row in rows]


def of_entity(post: Post) -> PostPublic:
    """A written post (author and tags loaded or set) as the same PostPublic a read returns."""
    assert post.id is not None
    assert post.slug is not None
    author = post.author
    fields = PublicFields(
        id=post.id,
        slug=post.slug,
        title=post.title,
        body=post.body,
        status=post.status,
        publish_at=post.publish_at,
        meta=post.meta,
        like_count=post.like_count,
        version=post.version,
        created_at=post.created_at,
        updated_at=post.updated_at,
        author_id=post.author_id,
        author_username=author.username,
        author_display_name=author.display_name,
        author_created_at=author.created_at,
        tags=sorted(tag.name for tag in post.tags),
    )
    return build(cast(PublicRow, fields))
