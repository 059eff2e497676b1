"""User rules: registration, authentication, profile of the account. Never commits."""

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.errors import Conflict, NotFound, Unauthorized
from service.kit.pagination import Page, Pager
from service.users import repository
from service.users.models import Profile, User
from service.users.schemas import (
    ProfilePublic,
    ProfileUpdate,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from service.users.security import hash_password, verify_password


async def register(session: AsyncSession, data: UserCreate) -> User:
    user = User(
        username=data.username,
        email=data.email.lower(),
        display_name=data.display_name,
        password_hash=await hash_password(data.password),
    )
    session.add(user)
    await _flush_unique(session, "That username or email is already taken.")
    return user


async def authenticate(session: AsyncSession, username: str, password: str) -> User:
    user = await repository.get_by_username(session, username.lower())
    if not await verify_password(password, user.password_hash if user else None):
        # One message whether the user exists or not.
        raise Unauthorized("Incorrect username or password.")
    assert user is not None
    return user


async def get(session: AsyncSession, user_id: int) -> User:
    user = await repository.get_by_id(session, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


async def list_users(session: AsyncSession, *, pager: Pager) -> Page[UserPublic]:
    sort = repository.USERS_BY_ID
    rows = await repository.list_page(session, after=pager.after(sort), limit=pager.limit)
    items, next_cursor = pager.page(rows, sort)
    return Page(items=[UserPublic.model_validate(u) for u in items], next_cursor=next_cursor)


async def update(session: AsyncSession, user: User, data: UserUpdate) -> User:
    changes = data.model_dump(exclude_unset=True)
    if (password := changes.pop("password", None)) is not None:
        user.password_hash = await hash_password(password)
        user.token_version += 1
    if (email := changes.pop("email", None)) is not None:
        user.email = email.lower()
    for field, value in changes.items():
        setattr(user, field, value)
    session.add(user)
    await _flush_unique(session, "That email is already taken.")
    return user


async def delete(session: AsyncSession, user: User) -> None:
    """The database cascades the delete to everything the user owns."""
    assert user.id is not None
    await repository.unlike_all(session, user.id)
    await session.delete(user)
    await session.flush()


async def get_profile(session: AsyncSession, user_id: int) -> ProfilePublic:
    """A user without a saved profile has an empty one; an unknown user is a 404."""
    profile = await repository.get_profile(session, user_id)
    if profile is None:
        await get(session, user_id)
        profile = Profile(user_id=user_id)
    return ProfilePublic.model_validate(profile)


async def put_profile(session: AsyncSession, user: User, data: ProfileUpdate) -> ProfilePublic:
    assert user.id is not None
    profile = await repository.put_profile(session, user.id, data.model_dump())
    return ProfilePublic.model_validate(profile)


async def _flush_unique(session: AsyncSession, message: str) -> None:
    try:
        await session.flush()
    except IntegrityError as error:
        raise Conflict(message) from error
