from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from service.kit.db.session import ReadSessionDep, SessionDep, SessionMakerDep
from service.kit.pagination import Page, PagerDep
from service.kit.schemas import IdPath
from service.kit.settings import SETTINGS
from service.users import service
from service.users.dependencies import ChangeOfAccount, CurrentUser, NewUser, WriteRateLimit
from service.users.ratelimit import LoginThrottle
from service.users.schemas import (
    LoginForm,
    ProfilePublic,
    ProfileUpdate,
    Token,
    UserPrivate,
    UserPublic,
)
from service.users.security import HashingDep, create_access_token

router = APIRouter(tags=["users"])


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    response_model=UserPrivate,
    dependencies=[WriteRateLimit],
)
async def register(new_user: NewUser, session: SessionDep, response: Response) -> UserPrivate:
    """The password is hashed before the session is opened (`NewUser` comes first)."""
    user = await service.register(session, new_user)
    response.headers["Location"] = f"/api/v1/users/{user.id}"
    return UserPrivate.model_validate(user)


@router.post("/auth/token", response_model=Token, dependencies=[LoginThrottle])
async def login(
    request: Request,
    form: Annotated[LoginForm, Depends()],
    sessionmaker: SessionMakerDep,
    hashing: HashingDep,
) -> Token:
    """No session of the request: the user is read in a short one, closed before argon2 runs."""
    user = await service.authenticate(request, sessionmaker, hashing, form.username, form.password)
    settings = SETTINGS.of(request)
    assert user.id is not None
    token = create_access_token(settings, user_id=user.id, token_version=user.token_version)
    return Token(access_token=token, expires_in=settings.jwt_expire_seconds)


@router.get("/users/me", response_model=UserPrivate)
async def read_me(user: CurrentUser) -> UserPrivate:
    return UserPrivate.model_validate(user)


@router.patch("/users/me", response_model=UserPrivate, dependencies=[WriteRateLimit])
async def update_me(change: ChangeOfAccount, user: CurrentUser, session: SessionDep) -> UserPrivate:
    """A new password is hashed before `CurrentUser` opens the session (`change` comes first)."""
    updated = await service.update(session, user, change.data, change.password_hash)
    return UserPrivate.model_validate(updated)


@router.put("/users/me/profile", response_model=ProfilePublic, dependencies=[WriteRateLimit])
async def put_my_profile(
    data: ProfileUpdate, user: CurrentUser, session: SessionDep
) -> ProfilePublic:
    return await service.put_profile(session, user, data)


@router.delete("/users/me", status_code=status.HTTP_204_NO_CONTENT, dependencies=[WriteRateLimit])
async def delete_me(user: CurrentUser, session: SessionDep) -> None:
    await service.delete(session, user)


@router.get("/users", response_model=Page[UserPublic])
async def list_users(session: ReadSessionDep, pager: PagerDep) -> Page[UserPublic]:
    return await service.list_users(session, pager=pager)


@router.get("/users/{user_id}", response_model=UserPublic)
async def read_user(user_id: IdPath, session: ReadSessionDep) -> UserPublic:
    return UserPublic.model_validate(await service.get(session, user_id))


@router.get("/users/{user_id}/profile", response_model=ProfilePublic)
async def read_profile(user_id: IdPath, session: ReadSessionDep) -> ProfilePublic:
    return await service.get_profile(session, user_id)
