import re
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status

from service.idempotency.route import IdempotentRoute
from service.kit.db.reads import ReadConnectionDep
from service.kit.db.session import ReadSessionDep, SessionDep
from service.kit.errors import BadRequest
from service.kit.http.responses import ModelResponse
from service.kit.pagination import Page, PagerDep
from service.kit.schemas import Id, IdPath, IdQuery, UtcDateTime
from service.posts import bulk, service
from service.posts.events import PublisherDep
from service.posts.models import PostStatus
from service.posts.schemas import (
    BulkCreate,
    BulkResult,
    LikeState,
    PostCreate,
    PostFilter,
    PostPublic,
    PostSort,
    PostUpdate,
)
from service.tags.schemas import normalise_tags
from service.users.dependencies import (
    CurrentUser,
    Idempotent,
    OptionalUser,
    SearchInListRateLimit,
    SearchRateLimit,
    WriteRateLimit,
)

router = APIRouter(prefix="/posts", tags=["posts"], route_class=IdempotentRoute)

IfMatch = Annotated[
    str | None, Header(max_length=256, description="ETag of the version being changed")
]
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


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PostPublic,
    dependencies=[WriteRateLimit, Idempotent],
)
async def create_post(
    data: PostCreate,
    user: CurrentUser,
    session: SessionDep,
    publisher: PublisherDep,
    response: Response,
) -> PostPublic:
    post = await service.create(session, publisher, author=user, data=data)
    response.headers["Location"] = f"/api/v1/posts/{post.id}"
    response.headers["ETag"] = service.etag(post)
    return post


@router.post(
    "/bulk",
    status_code=status.HTTP_201_CREATED,
    response_model=BulkResult,
    dependencies=[WriteRateLimit, Idempotent],
)
async def bulk_create_posts(
    data: BulkCreate, user: CurrentUser, session: SessionDep, publisher: PublisherDep
) -> BulkResult:
    """Up to 1000 posts; bad items are reported as `{index, detail}`, good ones are kept."""
    return await bulk.bulk_create(session, publisher, author=user, items=data.items)


@router.get("", response_model=Page[PostPublic], dependencies=[SearchInListRateLimit])
async def list_posts(
    reader: ReadConnectionDep,
    pager: PagerDep,
    viewer: OptionalUser,
    author_id: IdQuery = None,
    status_: Annotated[PostStatus, Query(alias="status")] = PostStatus.published,
    created_after: UtcDateTime | None = None,
    created_before: UtcDateTime | None = None,
    tag: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=200, description="full text")] = None,
    meta: Annotated[str | None, Query(max_length=300, description="key:value")] = None,
    commented_by: Annotated[Id | None, Query(description="a user id")] = None,
    sort: PostSort = PostSort.newest,
) -> ModelResponse:
    """Drafts (`status=draft`) are only ever the signed-in viewer's own."""
    filters = PostFilter(
        author_id=author_id,
        status=status_,
        created_after=created_after,
        created_before=created_before,
        tag=None if tag is None else _parse_tag(tag),
        q=q,
        meta=None if meta is None else _parse_meta(meta),
        commented_by=commented_by,
    )
    page = await service.list_posts(reader, filters=filters, sort=sort, pager=pager, viewer=viewer)
    return ModelResponse(page)


@router.get("/search", response_model=list[PostPublic], dependencies=[SearchRateLimit])
async def search_posts(
    session: ReadSessionDep,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[PostPublic]:
    """Best `limit` matches, ranked (ts_rank on PostgreSQL, bm25 on SQLite); no cursor."""
    return await service.search_posts(session, q=q, limit=limit)


@router.get("/top", response_model=Page[PostPublic])
async def top_posts(
    session: ReadSessionDep,
    pager: PagerDep,
    per_author: Annotated[int, Query(ge=1, le=20)] = 3,
) -> Page[PostPublic]:
    """Each author's `per_author` most liked posts, most liked first (keyset pages)."""
    return await service.top_posts(session, per_author=per_author, pager=pager)


@router.get("/{post_id}", response_model=PostPublic)
async def read_post(
    post_id: IdPath, reader: ReadConnectionDep, viewer: OptionalUser
) -> ModelResponse:
    post = await service.read_post(reader, post_id, viewer)
    return ModelResponse(post, headers={"ETag": service.etag(post)})


@router.patch("/{post_id}", response_model=PostPublic, dependencies=[WriteRateLimit])
async def update_post(
    post_id: IdPath,
    data: PostUpdate,
    user: CurrentUser,
    session: SessionDep,
    publisher: PublisherDep,
    response: Response,
    if_match: IfMatch = None,
) -> PostPublic:
    post = await service.update(
        session, publisher, post_id=post_id, user=user, data=data, if_match=if_match
    )
    response.headers["ETag"] = service.etag(post)
    return post


@router.delete("/{post_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=[WriteRateLimit])
async def delete_post(
    post_id: IdPath, user: CurrentUser, session: SessionDep, if_match: IfMatch = None
) -> None:
    await service.soft_delete(session, post_id=post_id, user=user, if_match=if_match)


@router.post("/{post_id}/restore", response_model=PostPublic, dependencies=[WriteRateLimit])
async def restore_post(
    post_id: IdPath, user: CurrentUser, session: SessionDep, response: Response
) -> PostPublic:
    post = await service.restore(session, post_id=post_id, user=user)
    response.headers["ETag"] = service.etag(post)
    return post


@router.put("/{post_id}/like", response_model=LikeState, dependencies=[WriteRateLimit])
async def like_post(post_id: IdPath, user: CurrentUser, session: SessionDep) -> LikeState:
    """Idempotent: liking twice counts once."""
    return await service.like(session, post_id=post_id, user=user)


@router.delete("/{post_id}/like", response_model=LikeState, dependencies=[WriteRateLimit])
async def unlike_post(post_id: IdPath, user: CurrentUser, session: SessionDep) -> LikeState:
    return await service.unlike(session, post_id=post_id, user=user)
