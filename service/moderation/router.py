from fastapi import APIRouter

from service.kit.db.session import ReadSessionDep, SessionDep
from service.kit.pagination import Page, PagerDep
from service.kit.schemas import IdPath
from service.moderation import service
from service.moderation.schemas import ModerationEntryPublic, RoleUpdate
from service.users.dependencies import CurrentUser
from service.users.schemas import UserPrivate

router = APIRouter(tags=["moderation"])


@router.put("/users/{user_id}/role", response_model=UserPrivate)
async def set_role(
    user_id: IdPath, data: RoleUpdate, user: CurrentUser, session: SessionDep
) -> UserPrivate:
    """Admins only; recorded in the moderation log."""
    return await service.set_role(session, actor=user, user_id=user_id, role=data.role)


@router.get("/moderation/log", response_model=Page[ModerationEntryPublic])
async def moderation_log(
    session: ReadSessionDep, pager: PagerDep, user: CurrentUser
) -> Page[ModerationEntryPublic]:
    """Moderators and admins only: every moderator action, newest first."""
    return await service.log_page(session, viewer=user, pager=pager)
