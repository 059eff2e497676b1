"""Moderation rules: who may moderate, the log of what they did, roles. Never commits.

Posts and comments call `may_moderate` / `record` when someone acts on content that is not
theirs; a moderator acting on their own content is an author, not a moderator (no entry).
"""

from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.errors import Forbidden, NotFound
from service.kit.pagination import Page, Pager
from service.moderation import repository
from service.moderation.models import Action, ModerationEntry
from service.moderation.schemas import ModerationEntryPublic
from service.users import repository as users
from service.users.models import Role, User
from service.users.schemas import UserPrivate


def may_moderate(user: User) -> bool:
    return user.moderates


def record(
    session: AsyncSession,
    actor: User | None,
    action: Action,
    *,
    target_type: str,
    target_id: object,
    detail: str | None = None,
) -> None:
    """Add the log entry to the caller's transaction: it commits (or not) with the action."""
    session.add(
        ModerationEntry(
            actor_id=None if actor is None else actor.id,
            action=action,
            target_type=target_type,
            target_id=str(target_id),
            detail=detail,
        )
    )


def _require(user: User, *roles: Role) -> None:
    if user.role not in roles:
        raise Forbidden("Your role does not allow this.")


async def log_page(
    session: AsyncSession, *, viewer: User, pager: Pager
) -> Page[ModerationEntryPublic]:
    """Moderators and admins only; newest first (keyset pages)."""
    _require(viewer, Role.moderator, Role.admin)
    sort = repository.NEWEST_FIRST
    rows = await repository.list_page(session, after=pager.after(sort), limit=pager.limit)
    items, next_cursor = pager.page(rows, sort)
    return Page(
        items=[ModerationEntryPublic.model_validate(e) for e in items], next_cursor=next_cursor
    )


async def set_role(
    session: AsyncSession, *, actor: User | None, user_id: int, role: Role
) -> UserPrivate:
    """Admins only (`actor` None: the command line). Nobody changes their own role, so the
    last admin cannot lock everyone out by accident."""
    if actor is not None:
        _require(actor, Role.admin)
        if actor.id == user_id:
            raise Forbidden("You may not change your own role.")
    user = await users.get_by_id(session, user_id)
    if user is None:
        raise NotFound("No such user.")
    if user.role != role:
        detail = f"{user.role.value} -> {role.value}"
        user.role = role
        session.add(user)
        record(
            session, actor, Action.role_set, target_type="user", target_id=user_id, detail=detail
        )
        await session.flush()
    return UserPrivate.model_validate(user)


async def make_admin(session: AsyncSession, username: str) -> UserPrivate:
    """The first admin, from the command line (`make admin username=...`)."""
    user = await users.get_by_username(session, username.lower())
    if user is None:
        raise NotFound(f"No user named {username!r}.")
    assert user.id is not None
    return await set_role(session, actor=None, user_id=user.id, role=Role.admin)
