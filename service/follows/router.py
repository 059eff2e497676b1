from fastapi import APIRouter, status

from service.database.session import ReadSessionDep, SessionDep
from service.follows import service
from service.follows.schemas import FollowPublic
from service.jobs.outbox import OutboxDep
from service.kit.errors import BadRequest
from service.kit.http.answers import error_responses
from service.kit.http.routing import Route
from service.kit.pagination import Page, PagerDep
from service.kit.schemas import IdPath
from service.users.dependencies import CurrentUser, WriteRateLimit

router = APIRouter(prefix="/users/{user_id:id}", tags=["follows"], route_class=Route)


@router.put(
    "/follow",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[WriteRateLimit],
    summary="Follow a user",
    description="Idempotent: following twice changes nothing. You are notified of every post "
    "they publish from now on.",
    responses=error_responses(BadRequest("You cannot follow yourself.")),
)
async def follow(
    user_id: IdPath, user: CurrentUser, session: SessionDep, outbox: OutboxDep
) -> None:
    """Idempotent; following yourself is a 400."""
    await service.follow(session, outbox, user=user, target_id=user_id)


@router.delete(
    "/follow",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[WriteRateLimit],
    summary="Unfollow a user",
    description="Idempotent: unfollowing someone you do not follow changes nothing.",
)
async def unfollow(user_id: IdPath, user: CurrentUser, session: SessionDep) -> None:
    await service.unfollow(session, user=user, target_id=user_id)


@router.get(
    "/followers",
    response_model=Page[FollowPublic],
    summary="List a user's followers",
    description="Who follows the user, most recent first, with `followed_at`.",
)
async def list_followers(
    user_id: IdPath, session: ReadSessionDep, pager: PagerDep
) -> Page[FollowPublic]:
    return await service.followers(session, user_id=user_id, pager=pager)


@router.get(
    "/following",
    response_model=Page[FollowPublic],
    summary="List whom a user follows",
    description="Whom the user follows, most recent first, with `followed_at`.",
)
async def list_following(
    user_id: IdPath, session: ReadSessionDep, pager: PagerDep
) -> Page[FollowPublic]:
    return await service.following(session, user_id=user_id, pager=pager)
