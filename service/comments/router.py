import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from service.comments import service
from service.comments.schemas import CommentCreate, CommentPublic, CommentThread
from service.database.reads import ReadConnection
from service.database.session import ReadSessionDep, SessionDep
from service.jobs.outbox import OutboxDep
from service.kit.errors import BadRequest, Forbidden
from service.kit.http.answers import LOCATION, body_examples, error_responses, success_headers
from service.kit.http.routing import Route
from service.kit.pagination import Page, PagerDep
from service.kit.schemas import IdPath
from service.users.dependencies import (
    CurrentUser,
    Idempotent,
    Viewer,
    WriteRateLimit,
)

router = APIRouter(tags=["comments"], route_class=Route)

MAX_THREAD_DEPTH = 5
NOT_YOURS = Forbidden("You may not change this comment.")


@router.get(
    "/posts/{post_id:id}/comments",
    response_model=Page[CommentPublic],
    summary="List a post's comments",
    description="Top-level comments, oldest first, each with its `reply_count`. A deleted "
    "comment that has replies shows as deleted (no body, no author); its replies stay.",
)
async def list_comments(
    post_id: IdPath, viewer: Viewer, pager: PagerDep, db: ReadConnection
) -> Page[CommentPublic]:
    return await service.top_level(db, post_id=post_id, viewer=viewer, pager=pager)


@router.post(
    "/posts/{post_id:id}/comments",
    status_code=status.HTTP_201_CREATED,
    response_model=CommentPublic,
    dependencies=[WriteRateLimit, Idempotent],
    summary="Comment on a post",
    description="A top-level comment, or a reply with `parent_id` (a comment of the same post; "
    "else 400). Send `Idempotency-Key` to retry safely.",
    responses=error_responses(BadRequest("parent_id must be a comment of the same post."))
    | success_headers(201, LOCATION),
    openapi_extra=body_examples(
        {
            "A comment": {"body": "Nice post!"},
            "A reply": {"body": "Agreed.", "parent_id": "0b7e5f3c-8a9d-4f1e-9c2b-3d4e5f6a7b8c"},
        }
    ),
)
async def create_comment(
    post_id: IdPath,
    data: CommentCreate,
    user: CurrentUser,
    session: SessionDep,
    outbox: OutboxDep,
    response: Response,
) -> CommentPublic:
    """`Location` is the new comment's own URL (`GET /comments/{id}`)."""
    comment = await service.create(session, outbox, post_id=post_id, author=user, data=data)
    response.headers["Location"] = f"/api/v1/comments/{comment.id}"
    return comment


@router.get(
    "/comments/{comment_id}",
    response_model=CommentPublic,
    summary="Read a comment",
    description="One comment, with its `reply_count`. A deleted comment that still holds "
    "replies shows as deleted (body and author hidden), as in its thread; a deleted comment "
    "without replies, or one on a post you may not see (a draft, a deleted post), is a 404.",
)
async def read_comment(
    comment_id: uuid.UUID, session: ReadSessionDep, viewer: Viewer
) -> CommentPublic:
    """One comment, with its `reply_count`. A deleted comment that still holds replies shows as
    deleted (body and author hidden), as in its thread; a deleted comment without replies, or
    one on a post the caller may not see (a draft, a deleted post), is a 404."""
    return await service.read(session, comment_id=comment_id, viewer=viewer)


@router.get(
    "/comments/{comment_id}/replies",
    response_model=Page[CommentPublic],
    summary="List a comment's replies",
    description="Direct replies to a comment, oldest first, each with its `reply_count`. A "
    "deleted comment without replies is gone (404), and so is this listing of it.",
)
async def list_replies(
    comment_id: uuid.UUID, viewer: Viewer, pager: PagerDep, db: ReadConnection
) -> Page[CommentPublic]:
    return await service.replies(db, comment_id=comment_id, viewer=viewer, pager=pager)


@router.get(
    "/comments/{comment_id}/thread",
    response_model=CommentThread,
    summary="Read a comment thread",
    description="A comment with its replies nested `depth` levels deep.",
)
async def read_thread(
    comment_id: uuid.UUID,
    session: ReadSessionDep,
    viewer: Viewer,
    depth: Annotated[int, Query(ge=1, le=MAX_THREAD_DEPTH, description="levels of replies")] = 3,
) -> CommentThread:
    """A comment with its replies nested `depth` levels deep (one statement per level)."""
    return await service.thread(session, comment_id=comment_id, viewer=viewer, depth=depth)


@router.delete(
    "/comments/{comment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[WriteRateLimit],
    summary="Delete a comment",
    description="Soft delete, by the comment's author, the post's owner or a moderator. A "
    "comment with replies keeps its place, shown as deleted.",
    responses=error_responses(NOT_YOURS),
)
async def delete_comment(comment_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> None:
    """Soft delete, by the comment's author or the post's owner."""
    await service.delete(session, comment_id=comment_id, user=user)


@router.post(
    "/comments/{comment_id}/restore",
    response_model=CommentPublic,
    summary="Restore a deleted comment",
    description="Undo a soft delete: the comment's author, the post's owner, or a moderator.",
    responses=error_responses(NOT_YOURS),
)
async def restore_comment(
    comment_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> CommentPublic:
    """Undo a soft delete: the comment's author, the post's owner, or a moderator."""
    return await service.restore(session, comment_id=comment_id, user=user)
