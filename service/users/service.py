"""User rules: registration, authentication, profile of the account. Never commits."""

from fastapi import Request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.database.guard import side_session
from service.kit.db.errors import violated_unique
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
from service.users.security import Hashing


async def new_user(hashing: Hashing, data: UserCreate) -> User:
    """The account to register, its password hashed; no database involved (the request's
    session is opened only after this, so no slot or connection waits on argon2)."""
    return User(
        username=data.username,
        email=data.email.lower(),
        display_name=data.display_name,
        password_hash=await hashing.hash(data.password),
    )


async def register(session: AsyncSession, user: User) -> User:
    session.add(user)
    await _flush_unique(session, "That username or email is already taken.", "username", "email")
    return user


async def authenticate(
    request: Request,
    sessionmaker: async_sessionmaker[AsyncSession],
    hashing: Hashing,
    username: str,
    password: str,
) -> User:
    """The user is read in a short session of its own, which is closed (connection and guard
    slot released) before argon2 verifies the password."""
    async with side_session(request, sessionmaker) as session:
        user = await repository.get_by_username(session, username.lower())
    if not await hashing.verify(password, user.password_hash if user else None):
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


async def update(
    session: AsyncSession, user: User, data: UserUpdate, password_hash: str | None
) -> User:
    """`password_hash`: the new password, hashed before the request's session was opened."""
    changes = data.model_dump(exclude_unset=True)
    changes.pop("password", None)
    if password_hash is not None:
        user.password_hash = password_hash
        user.token_version += 1
    if (email := changes.pop("email", None)) is not None:
        user.email = email.lower()
    for field, value in changes.items():
        setattr(user, field, value)
    session.add(user)
    await _flush_unique(session, "That email is already taken.", "email")
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


_UNIQUE_FIELDS = {
    "uq_users_username": "username",
    "users.username": "username",
    "uq_users_email": "email",
    "users.email": "email",
}
"""The unique constraints of users as `violated_unique` reports them: by name on PostgreSQL, by
column on SQLite."""


async def _flush_unique(session: AsyncSession, message: str, *fields: str) -> None:
    """Flush; a unique violation of one of `fields` is a 409 with `message`. Any other error
    (another constraint, a foreign key, ...) goes on to the one error handler (kit/errors.py)."""
    try:
        await session.flush()
    except IntegrityError as error:
        if _UNIQUE_FIELDS.get(violated_unique(error) or "") in fields:
            raise Conflict(message) from error
        raise
