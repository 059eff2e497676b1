from fastapi import APIRouter

from service.kit.db.session import ReadSessionDep
from service.kit.pagination import Page, PagerDep
from service.notifications import repository, service
from service.notifications.schemas import NotificationPublic
from service.users.dependencies import CurrentUser

router = APIRouter(tags=["notifications"])


@router.get("/users/me/notifications", response_model=Page[NotificationPublic])
async def list_my_notifications(
    user: CurrentUser, session: ReadSessionDep, pager: PagerDep
) -> Page[NotificationPublic]:
    sort = repository.NEWEST_FIRST
    rows = await service.list_page(
        session, user_id=user.id or 0, after=pager.after(sort), limit=pager.limit
    )
    items, next_cursor = pager.page(rows, sort)
    return Page(
        items=[NotificationPublic.model_validate(n) for n in items], next_cursor=next_cursor
    )
