"""`GET /users/me/feed`: the home feed."""

from fastapi import APIRouter

from service.database.reads import ReadConnection
from service.feed import service
from service.kit.http.routing import Route
from service.kit.pagination import Page, PagerDep
from service.posts.schemas import PostPublic
from service.users.dependencies import SignedInUser

router = APIRouter(tags=["feed"], route_class=Route)


@router.get(
    "/users/me/feed",
    response_model=Page[PostPublic],
    summary="Read my home feed",
    description="Published posts by the authors you follow, newest first, a keyset page at a "
    "time (the same items and cursor rules as `GET /posts`; `bookmarked` is yours). Follow or "
    "unfollow someone and the next page shows it; a cursor stays where it was.",
)
async def read_feed(user: SignedInUser, db: ReadConnection, pager: PagerDep) -> Page[PostPublic]:
    return await service.feed(db, user=user, pager=pager)
