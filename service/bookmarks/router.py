"""The reading list: bookmark a post, remove it, list yours."""

from fastapi import APIRouter, status

from service.bookmarks import service
from service.bookmarks.schemas import BookmarkedPost
from service.database.reads import ReadConnection
from service.database.session import SessionDep
from service.kit.errors import NotFound
from service.kit.http.answers import error_responses
from service.kit.http.routing import Route
from service.kit.pagination import Page, PagerDep
from service.kit.schemas import IdPath
from service.users.dependencies import CurrentUser, SignedInUser, WriteRateLimit

router = APIRouter(tags=["bookmarks"], route_class=Route)


@router.put(
    "/posts/{post_id:id}/bookmark",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[WriteRateLimit],
    summary="Bookmark a post",
    description="Adds the post to your reading list. Idempotent: 204 whether it was already "
    "there or not (the first `bookmarked_at` stays). A post you may not see (another's draft, "
    "a deleted post) is a 404.",
    responses=error_responses(NotFound("No such post.")),
)
async def bookmark(post_id: IdPath, user: CurrentUser, session: SessionDep) -> None:
    await service.bookmark(session, user=user, post_id=post_id)


@router.delete(
    "/posts/{post_id:id}/bookmark",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[WriteRateLimit],
    summary="Remove a bookmark",
    description="Idempotent: 204 whether the post was on your reading list or not, and for any "
    "id (it removes only your own row and says nothing about the post).",
)
async def unbookmark(post_id: IdPath, user: CurrentUser, session: SessionDep) -> None:
    await service.unbookmark(session, user=user, post_id=post_id)


@router.get(
    "/users/me/bookmarks",
    response_model=Page[BookmarkedPost],
    summary="List my bookmarks",
    description="Your reading list, most recently bookmarked first, a keyset page at a time: "
    "posts as `GET /posts` shows them, with `bookmarked_at`. A post that is no longer visible "
    "to you (deleted, or unpublished by its author) is left out; it comes back if restored.",
)
async def list_bookmarks(
    user: SignedInUser, db: ReadConnection, pager: PagerDep
) -> Page[BookmarkedPost]:
    return await service.reading_list(db, user=user, pager=pager)
