from typing import Annotated

from fastapi import APIRouter, Header, Response, status

from service.database.session import SessionDep
from service.kit.errors import Forbidden, PreconditionFailed
from service.kit.http.answers import (
    ETAG,
    LOCATION,
    body_examples,
    error_responses,
    success_headers,
)
from service.kit.http.preconditions import IfMatch
from service.kit.http.responses import representation_etag
from service.kit.http.routing import Route
from service.kit.schemas import IdPath
from service.posts import bulk, editing, examples, service
from service.posts.events import PublisherDep
from service.posts.schemas import (
    BulkChange,
    BulkChangeResult,
    BulkCreate,
    BulkResult,
    LikeState,
    PostCreate,
    PostPublic,
    PostUpdate,
)
from service.users.dependencies import (
    CurrentUser,
    Idempotent,
    WriteRateLimit,
)

router = APIRouter(prefix="/posts", tags=["posts"], route_class=Route)

IfMatchHeader = Annotated[
    str | None,
    Header(
        max_length=256,
        description="The ETag a GET returned: 412 unless it names the current representation"
        " (strong comparison: a weak `W/` tag never matches; `*` matches any)",
    ),
]

NOT_YOURS = Forbidden("You may not change this post.")
STALE = PreconditionFailed("The post has changed since you read it.")


# Declaration order is match order: /bulk before /{post_id:id}. The reads are a router of their
# own, included before this one (service/posts/read_router.py).
@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PostPublic,
    dependencies=[WriteRateLimit, Idempotent],
    summary="Create a post",
    description="A new post is a **draft** unless `status` is `published` (drafts are listed "
    "only with `status=draft`, and only to you), or `scheduled` with a future `publish_at`: "
    "private like a draft until the job worker publishes it then. Tags are normalised (lower "
    "case, deduplicated); the slug comes from the title unless given. Send `Idempotency-Key` to "
    "retry safely.",
    responses=success_headers(201, LOCATION, ETAG),
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
    response.headers["ETag"] = representation_etag(post)
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
    return await bulk.bulk_set_status(session, publisher, author=user, items=data.items)


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
    return await bulk.bulk_delete(session, author=user, items=data.items)


@router.patch(
    "/{post_id:id}",
    response_model=PostPublic,
    dependencies=[WriteRateLimit],
    summary="Update a post",
    description="Change only the fields sent (`tags` replaces all tags); the owner only. With "
    "`If-Match: <ETag>` the change applies only to that version (else 412). Every change bumps "
    "`version`; publishing a draft notifies your followers. `publish_at` moves a scheduled post's "
    "time; another `status` takes it off the schedule. A change of title, body, tags or metadata "
    "keeps the former state as a revision.",
    responses=error_responses(NOT_YOURS, STALE) | success_headers(200, ETAG),
    openapi_extra=body_examples(examples.UPDATE),
)
async def update_post(
    post_id: IdPath,
    data: PostUpdate,
    user: CurrentUser,
    session: SessionDep,
    publisher: PublisherDep,
    response: Response,
    if_match: IfMatchHeader = None,
) -> PostPublic:
    """Owner only. Omitted fields stay as they are; `null` is refused (422 naming the field):
    no field of a post can be cleared. `tags` replaces all tags. One PATCH bumps `version`
    once; the response carries the new `ETag` (the one the next GET sends)."""
    post = await editing.update(
        session, publisher, post_id=post_id, user=user, data=data, precondition=IfMatch(if_match)
    )
    response.headers["ETag"] = representation_etag(post)
    return post


@router.delete(
    "/{post_id:id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[WriteRateLimit],
    summary="Delete a post",
    description="Soft delete by the owner or a moderator: the post vanishes from every read "
    "and can be restored. `If-Match` as for an update.",
    responses=error_responses(NOT_YOURS, STALE),
)
async def delete_post(
    post_id: IdPath, user: CurrentUser, session: SessionDep, if_match: IfMatchHeader = None
) -> None:
    """Soft delete (owner or moderator); `If-Match` as for PATCH."""
    await service.soft_delete(session, post_id=post_id, user=user, precondition=IfMatch(if_match))


@router.post(
    "/{post_id:id}/restore",
    response_model=PostPublic,
    dependencies=[WriteRateLimit],
    summary="Restore a deleted post",
    description="Undo a soft delete: the owner or a moderator.",
    responses=error_responses(NOT_YOURS) | success_headers(200, ETAG),
)
async def restore_post(
    post_id: IdPath, user: CurrentUser, session: SessionDep, response: Response
) -> PostPublic:
    post = await service.restore(session, post_id=post_id, user=user)
    response.headers["ETag"] = representation_etag(post)
    return post


@router.put(
    "/{post_id:id}/like",
    response_model=LikeState,
    dependencies=[WriteRateLimit],
    summary="Like a post",
    description="Idempotent: liking twice counts once. `like_count` is exact under any "
    "concurrency.",
)
async def like_post(
    post_id: IdPath, user: CurrentUser, session: SessionDep, publisher: PublisherDep
) -> LikeState:
    """Idempotent: liking twice counts once."""
    return await service.like(session, publisher, post_id=post_id, user=user)


@router.delete(
    "/{post_id:id}/like",
    response_model=LikeState,
    dependencies=[WriteRateLimit],
    summary="Unlike a post",
    description="Idempotent: removing a like that is not there changes nothing.",
)
async def unlike_post(post_id: IdPath, user: CurrentUser, session: SessionDep) -> LikeState:
    return await service.unlike(session, post_id=post_id, user=user)
