"""The reads of posts: listings, search, top, export, one post (the writes: router.py)."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from service.database.reads import ReadConnection
from service.database.session import ReadSessionDep
from service.database.streaming import StreamingSessionDep
from service.kit.errors import Unauthorized
from service.kit.http.answers import ETAG, declares, error_responses, success_headers
from service.kit.http.routing import Route
from service.kit.pagination import BAD_CURSOR, Page, PagerDep
from service.kit.schemas import IdPath
from service.posts import export, service
from service.posts.filters import PostFilterQueryDep, PostListQueryDep
from service.posts.schemas import PostPublic
from service.users.dependencies import (
    SEARCHES,
    ExportRateLimit,
    SearchRateLimit,
    SignedInUser,
    Viewer,
)

router = APIRouter(prefix="/posts", tags=["posts"], route_class=Route)


@router.get(
    "",
    response_model=Page[PostPublic],
    summary="List posts",
    description="Published posts, newest first, a keyset page at a time; each embeds its author "
    "and tags. Filter by author, tag, creation time, `meta=key:value` or full text (`q`, "
    "rate-limited like search); `status=draft` lists your own drafts (a token is needed). A "
    "`cursor` continues the listing it came from: with other filters or another sort it is a 400.",
    responses=error_responses(Unauthorized("Sign in to list your drafts.")),
)
@declares(BAD_CURSOR, SEARCHES.answers)
async def list_posts(
    request: Request,
    query: PostListQueryDep,
    viewer: Viewer,
    db: ReadConnection,
    response: Response,
) -> Page[PostPublic]:
    """With `q` the listing is a search, charged to the caller's search budget."""
    filters = query.to_filter()
    if filters.q is not None:
        response.headers.update(await SEARCHES.charge(request, viewer))
    pager = query.pager(request)
    return await service.list_posts(
        db, filters=filters, sort=query.sort, pager=pager, viewer=viewer
    )


@router.get(
    "/{post_id:id}",
    response_model=PostPublic,
    summary="Read a post",
    description="A published post, or your own draft (anyone else's draft is a 404). The "
    "`ETag` is the hash of this representation (a like changes it too): send it back in "
    "`If-Match`, or in `If-None-Match` for a 304. `HEAD` answers the same headers.",
    responses=success_headers(200, ETAG),
)
async def read_post(post_id: IdPath, viewer: Viewer, db: ReadConnection) -> PostPublic:
    return await service.read_post(db, post_id, viewer)


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
    dependencies=[ExportRateLimit],
    responses={200: {"content": {media: {} for media in export.MEDIA_TYPES.values()}}},
    summary="Export posts",
    description="Every post the `GET /posts` filters match, oldest first, streamed: NDJSON "
    "(one `PostPublic` per line, the default) or CSV with a header row (`format=csv`). Memory "
    "stays flat whatever the size. Rate-limited (`EXPORT_RATE_LIMIT`).",
)
async def export_posts(
    user: SignedInUser,
    session: StreamingSessionDep,
    query: PostFilterQueryDep,
    response: Response,
    export_format: Annotated[export.ExportFormat, Query(alias="format")] = (
        export.ExportFormat.ndjson
    ),
) -> StreamingResponse:
    """Every post the `GET /posts` filters match, oldest first: NDJSON (default) or CSV,
    streamed from a server-side cursor (memory stays flat whatever the size)."""
    filters = query.to_filter()
    body = await export.export(session, filters=filters, viewer=user, export_format=export_format)
    # A returned Response replaces the one the dependencies set headers on (RateLimit-*).
    headers = {k: v for k, v in response.headers.items() if k.lower().startswith("ratelimit-")}
    return StreamingResponse(body, media_type=export.MEDIA_TYPES[export_format], headers=headers)
