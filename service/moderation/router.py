from fastapi import APIRouter

from service.database.session import ReadSessionDep, SessionDep
from service.kit.errors import Forbidden
from service.kit.http.answers import body_examples, error_responses
from service.kit.http.routing import Route
from service.kit.pagination import Page, PagerDep
from service.kit.schemas import IdPath
from service.moderation import service
from service.moderation.schemas import ModerationEntryPublic, RoleUpdate
from service.users.dependencies import CurrentUser
from service.users.schemas import UserPrivate

router = APIRouter(tags=["moderation"], route_class=Route)


@router.put(
    "/users/{user_id:id}/role",
    response_model=UserPrivate,
    summary="Set a user's role",
    description="Admins only (`member`, `moderator` or `admin`); never your own role. "
    "Recorded in the moderation log.",
    responses=error_responses(
        Forbidden("Your role does not allow this."), Forbidden("You may not change your own role.")
    ),
    openapi_extra=body_examples({"Make a moderator": {"role": "moderator"}}),
)
async def set_role(
    user_id: IdPath, data: RoleUpdate, user: CurrentUser, session: SessionDep
) -> UserPrivate:
    """Admins only; recorded in the moderation log."""
    return await service.set_role(session, actor=user, user_id=user_id, role=data.role)


@router.get(
    "/moderation/log",
    response_model=Page[ModerationEntryPublic],
    summary="Read the moderation log",
    description="Moderators and admins only: every moderator action (actor, action, target, "
    "time), newest first.",
    responses=error_responses(Forbidden("Your role does not allow this.")),
)
async def moderation_log(
    session: ReadSessionDep, pager: PagerDep, user: CurrentUser
) -> Page[ModerationEntryPublic]:
    """Moderators and admins only: every moderator action, newest first."""
    return await service.log_page(session, viewer=user, pager=pager)
