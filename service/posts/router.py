from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from service.idempotency.route import IdempotentRoute
from service.kit.db.reads import read_connection
from service.kit.db.session import ReadSessionDep, SessionDep
from service.kit.db.streaming import StreamingSessionDep
from service.kit.errors import Forbidden, PreconditionFailed, Unauthorized
from service.kit.http.answers import ETAG, LOCATION, answers_of, body_examples, problems, sends
from service.kit.http.responses import ModelResponse
from service.kit.pagination import Page, PagerDep
from service.kit.schemas import IdPath
from service.posts import bulk, bulk_changes, examples, export, service
from service.posts.events import PublisherDep
from service.posts.filters import PostFilterDep
from service.posts.schemas import (
    BulkChange,
    BulkChangeResult,
    BulkCreate,
    BulkResult,
    LikeState,
    PostCreate,
    PostPublic,
    PostSort,
    PostUpdate,
)
from service.users.dependencies import (
    SEARCHES,
    CurrentUser,
    ExportLimit,
    Idempotent,
    SearchRateLimit,
    SignedInUser,
    WriteRateLimit,
    viewer_of,
)

router = APIRouter(prefix="/posts", tags=["posts"], route_class=IdempotentRoute)

IfMatch = Annotated[
    str | None,
    Header(
        max_length=256,
        description="The ETag a GET returned: 412 unless it names the current representation"
        " (strong comparison: a weak `W/` tag never matches; `*` matches any)",
    ),
]

NOT_YOURS = Forbidden("You may not change this post.")
STALE = PreconditionFailed("The post has changed since you read it.")


# Declaration order is match order: the reads first (the hottest, GET /{post_id}, after the
# fixed GET paths it would claim), then the writes; /bulk before /{post_id} among the writes.
@router.get(
    "",
    response_model=Page[PostPublic],
    summary="List posts",
    description="Published posts, newest first, a keyset page at a time; each embeds its author "
    "and tags. Filter by author, tag, creation time, `meta=key:value` or full text (`q`, "
    "rate-limited like search); `status=draft` lists your own drafts (a token is needed). A "
    "`cursor` continues the listing it came from: with other filters or another sort it is a 400.",
    responses=problems(Unauthorized("Sign in to list your drafts.")),
)
@answers_of(viewer_of, read_connection, SEARCHES.answers)
async def list_posts(
    request: Request,
    pager: PagerDep,
    filters: PostFilterDep,
    sort: PostSort = PostSort.newest,
) -> ModelResponse:
    """No dependency for the viewer or the connection (docs/performance.md); with `q` the
    listing is a search, charged to the caller's search budget here."""
    viewer = await viewer_of(request)
    headers = await SEARCHES.charge(request, viewer) if filters.q is not None else None
    async with read_connection(request) as reader:
        page = await service.list_posts(
            reader, filters=filters, sort=sort, pager=pager, viewer=viewer
        )
    return ModelResponse(page, headers=headers)


@router.get(
    "/search",
    response_model=list[PostPublic],
    dependencies=[SearchRateLimit],
    summary="Search posts",
    description="The best `limit` published posts for `q`, ranked (PostgreSQL full text with "
    "ts_rank; SQLite FTS5 with bm25). One page, no cursor.",
)
async def search_posts(
    session: ReadSessionDep,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[PostPublic]:
    """Best `limit` matches, ranked (ts_rank on PostgreSQL, bm25 on SQLite); no cursor."""
    return await service.search_posts(session, q=q, limit=limit)


@router.get(
    "/top",
    response_model=Page[PostPublic],
    summary="Each author's top posts",
    description="Each author's `per_author` most liked published posts, most liked first.",
)
async def top_posts(
    session: ReadSessionDep,
    pager: PagerDep,
    per_author: Annotated[int, Query(ge=1, le=20)] = 3,
) -> Page[PostPublic]:
    """Each author's `per_author` most liked posts, most liked first (keyset pages)."""
    return await service.top_posts(session, per_author=per_author, pager=pager)


@router.get(
    "/export",
    response_class=StreamingResponse,
    dependencies=[ExportLimit],
    responses={200: {"content": {media: {} for media in export.MEDIA_TYPES.values()}}},
    summary="Export posts",
    description="Every post the `GET /posts` filters match, oldest first, streamed: NDJSON "
    "(one `PostPublic` per line, the default) or CSV with a header row (`format=csv`). Memory "
    "stays flat whatever the size. Rate-limited (`EXPORT_RATE_LIMIT`).",
)
async def export_posts(
    user: SignedInUser,
    session: StreamingSessionDep,
    filters: PostFilterDep,
    response: Response,
    export_format: Annotated[export.ExportFormat, Query(alias="format")] = (
        export.ExportFormat.ndjson
    ),
) -> StreamingResponse:
    """Every post the `GET /posts` filters match, oldest first: NDJSON (default) or CSV,
    streamed from a server-side cursor (memory stays flat whatever the size)."""
    body = await export.export(session, filters=filters, viewer=user, export_format=export_format)
    # A returned Response replaces the one the dependencies set headers on (RateLimit-*).
    headers = {k: v for k, v in response.headers.items() if k.lower().startswith("ratelimit-")}
    return StreamingResponse(body, media_type=export.MEDIA_TYPES[export_format], headers=headers)


@router.get(
    "/{post_id}",
    response_model=PostPublic,
    summary="Read a post",
    description="A published post, or your own draft (anyone else's draft is a 404). The "
    "`ETag` is the hash of this representation (a like changes it too): send it back in "
    "`If-Match`, or in `If-None-Match` for a 304. `HEAD` answers the same headers.",
    responses=sends(200, ETAG),
)
@answers_of(viewer_of, read_connection)
async def read_post(post_id: IdPath, request: Request) -> ModelResponse:
    """No dependencies on this hottest route: the viewer and the connection are taken in the
    handler (docs/performance.md)."""
    viewer = await viewer_of(request)
    async with read_connection(request) as reader:
        post = await service.read_post(reader, post_id, viewer)
    return ModelResponse(post)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PostPublic,
    dependencies=[WriteRateLimit, Idempotent],
    summary="Create a post",
    description="A new post is a **draft** unless `status` is `published` (drafts are listed "
    "only with `status=draft`, and only to you). Tags are normalised (lower case, deduplicated); "
    "the slug comes from the title unless given. Send `Idempotency-Key` to retry safely.",
    responses=sends(201, LOCATION, ETAG),
    openapi_extra=body_examples(examples.CREATE),
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
    summary="Create posts in bulk",
    description="Up to 1000 posts in one request, each validated like `POST /posts`: good "
    "items are created (`created`: their ids), bad ones are reported as `{index, detail}` in "
    "`errors`, and neither stops the other.",
    openapi_extra=body_examples(examples.BULK_CREATE),
)
async def bulk_create_posts(
    data: BulkCreate, user: CurrentUser, session: SessionDep, publisher: PublisherDep
) -> BulkResult:
    """Up to 1000 posts; bad items are reported as `{index, detail}`, good ones are kept."""
    return await bulk.bulk_create(session, publisher, author=user, items=data.items)


@router.patch(
    "/bulk",
    response_model=BulkChangeResult,
    summary="Publish or unpublish posts in bulk",
    description="Up to 1000 of your posts: `{items: [{id, status, version?}]}`. A `version` "
    "must still be the current one. Items that cannot be changed (not yours, missing, stale) are "
    "reported as `{index, detail}`; the others are applied.",
    openapi_extra=body_examples(examples.BULK_STATUS),
)
async def bulk_set_status(
    data: BulkChange, user: CurrentUser, session: SessionDep, publisher: PublisherDep
) -> BulkChangeResult:
    """Publish or unpublish up to 1000 of your posts: `{items: [{id, status, version?}]}`;
    items that cannot be changed are reported as `{index, detail}`, the others are applied."""
    return await bulk_changes.bulk_set_status(session, publisher, author=user, items=data.items)


@router.delete(
    "/bulk",
    response_model=BulkChangeResult,
    summary="Delete posts in bulk",
    description="Soft-delete up to 1000 of your posts: `{items: [{id, version?}]}`, with the "
    "same per-item report as the bulk status change.",
    openapi_extra=body_examples(examples.BULK_DELETE),
)
async def bulk_delete(data: BulkChange, user: CurrentUser, session: SessionDep) -> BulkChangeResult:
    """Soft-delete up to 1000 of your posts: `{items: [{id, version?}]}` (per-item report)."""
    return await bulk_changes.bulk_delete(session, author=user, items=data.items)


@router.patch(
    "/{post_id}",
    response_model=PostPublic,
    dependencies=[WriteRateLimit],
    summary="Update a post",
    description="Change only the fields sent (`tags` replaces all tags); the owner only. With "
    "`If-Match: <ETag>` the change applies only to that version (else 412). Every change bumps "
    "`version`; publishing a draft notifies your followers.",
    responses=problems(NOT_YOURS, STALE) | sends(200, ETAG),
    openapi_extra=body_examples(examples.UPDATE),
)
async def update_post(
    post_id: IdPath,
    data: PostUpdate,
    user: CurrentUser,
    session: SessionDep,
    publisher: PublisherDep,
    response: Response,
    if_match: IfMatch = None,
) -> PostPublic:
    """Owner only. Omitted fields stay as they are; `null` is refused (422 naming the field):
    no field of a post can be cleared. `tags` replaces all tags. One PATCH bumps `version`
    once; the response carries the new `ETag` (the one the next GET sends)."""
    post = await service.update(
        session, publisher, post_id=post_id, user=user, data=data, if_match=if_match
    )
    response.headers["ETag"] = service.etag(post)
    return post


@router.delete(
    "/{post_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[WriteRateLimit],
    summary="Delete a post",
    description="Soft delete by the owner or a moderator: the post vanishes from every read "
    "and can be restored. `If-Match` as for an update.",
    responses=problems(NOT_YOURS, STALE),
)
async def delete_post(
    post_id: IdPath, user: CurrentUser, session: SessionDep, if_match: IfMatch = None
) -> None:
    """Soft delete (owner or moderator); `If-Match` as for PATCH."""
    await service.soft_delete(session, post_id=post_id, user=user, if_match=if_match)


@router.post(
    "/{post_id}/restore",
    response_model=PostPublic,
    dependencies=[WriteRateLimit],
    summary="Restore a deleted post",
    description="Undo a soft delete: the owner or a moderator.",
    responses=problems(NOT_YOURS) | sends(200, ETAG),
)
async def restore_post(
    post_id: IdPath, user: CurrentUser, session: SessionDep, response: Response
) -> PostPublic:
    post = await service.restore(session, post_id=post_id, user=user)
    response.headers["ETag"] = service.etag(post)
    return post


@router.put(
    "/{post_id}/like",
    response_model=LikeState,
    dependencies=[WriteRateLimit],
    summary="Like a post",
    description="Idempotent: liking twice counts once. `like_count` is exact under any "
    "concurrency.",
)
async def like_post(post_id: IdPath, user: CurrentUser, session: SessionDep) -> LikeState:
    """Idempotent: liking twice counts once."""
    return await service.like(session, post_id=post_id, user=user)


@router.delete(
    "/{post_id}/like",
    response_model=LikeState,
    dependencies=[WriteRateLimit],
    summary="Unlike a post",
    description="Idempotent: removing a like that is not there changes nothing.",
)
async def unlike_post(post_id: IdPath, user: CurrentUser, session: SessionDep) -> LikeState:
    return await service.unlike(session, post_id=post_id, user=user)
