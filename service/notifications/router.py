from fastapi import APIRouter, Body, status

from service.kit.db.session import ReadSessionDep, SessionDep
from service.kit.pagination import Page, PagerDep
from service.notifications import service
from service.notifications.schemas import MarkRead, NotificationPublic, UnreadCount
from service.users.dependencies import CurrentUser

router = APIRouter(tags=["notifications"])


@router.get("/users/me/notifications", response_model=Page[NotificationPublic])
async def list_my_notifications(
    user: CurrentUser, session: ReadSessionDep, pager: PagerDep
) -> Page[NotificationPublic]:
    return await service.list_mine(session, user=user, pager=pager)


@router.get("/users/me/notifications/unread_count", response_model=UnreadCount)
async def my_unread_count(user: CurrentUser, session: ReadSessionDep) -> UnreadCount:
    return await service.unread_count(session, user=user)


@router.post("/users/me/notifications/read", status_code=status.HTTP_204_NO_CONTENT)
async def mark_my_notifications_read(
    user: CurrentUser, session: SessionDep, data: MarkRead | None = Body(default=None)
) -> None:
    await service.mark_read(session, user=user, up_to_id=data.up_to_id if data else None)
