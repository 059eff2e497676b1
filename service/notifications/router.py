from fastapi import APIRouter, Body, status

from service.database.session import ReadSessionDep, SessionDep
from service.kit.http.answers import body_examples
from service.kit.http.routing import Route
from service.kit.pagination import Page, PagerDep
from service.notifications import service
from service.notifications.schemas import MarkRead, NotificationPublic, UnreadCount
from service.users.dependencies import CurrentUser

router = APIRouter(tags=["notifications"], route_class=Route)


@router.get(
    "/users/me/notifications",
    response_model=Page[NotificationPublic],
    summary="List my notifications",
    description="Newest first: one `post.published` per post published by someone you follow.",
)
async def list_my_notifications(
    user: CurrentUser, session: ReadSessionDep, pager: PagerDep
) -> Page[NotificationPublic]:
    return await service.list_mine(session, user=user, pager=pager)


@router.get(
    "/users/me/notifications/unread_count",
    response_model=UnreadCount,
    summary="Count my unread notifications",
    description="How many of your notifications have no `read_at` yet.",
)
async def my_unread_count(user: CurrentUser, session: ReadSessionDep) -> UnreadCount:
    return await service.unread_count(session, user=user)


@router.post(
    "/users/me/notifications/read",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Mark my notifications read",
    description="Every notification up to `up_to_id` (all of them without a body or an id).",
    openapi_extra=body_examples({"All of them": {}, "Up to one": {"up_to_id": 42}}),
)
async def mark_my_notifications_read(
    user: CurrentUser, session: SessionDep, data: MarkRead | None = Body(default=None)
) -> None:
    await service.mark_read(session, user=user, up_to_id=data.up_to_id if data else None)
