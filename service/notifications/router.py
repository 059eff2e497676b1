from fastapi import APIRouter

from service.kit.db.session import ReadSessionDep
from service.kit.pagination import Page, PagerDep
from service.notifications import service
from service.notifications.schemas import NotificationPublic
from service.users.dependencies import CurrentUser

router = APIRouter(tags=["notifications"])


@router.get("/users/me/notifications", response_model=Page[NotificationPublic])
async def list_my_notifications(
    user: CurrentUser, session: ReadSessionDep, pager: PagerDep
) -> Page[NotificationPublic]:
    return await service.list_mine(session, user=user, pager=pager)
