from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from service.database.session import ReadSessionDep, SessionDep, SessionMakerDep
from service.kit.errors import Conflict, Unauthorized
from service.kit.http.answers import LOCATION, body_examples, error_responses, success_headers
from service.kit.http.routing import Route
from service.kit.pagination import Page, PagerDep
from service.kit.schemas import IdPath
from service.users import service
from service.users.dependencies import AccountChangeDep, CurrentUser, NewUser, WriteRateLimit
from service.users.ratelimit import LoginThrottleDep
from service.users.schemas import (
    LoginForm,
    ProfilePublic,
    ProfileUpdate,
    Token,
    UserPrivate,
    UserPublic,
)
from service.users.security import HashingDep, create_access_token
from service.users.settings import USERS_SETTINGS

router = APIRouter(tags=["users"], route_class=Route)
auth_router = APIRouter(tags=["auth"], route_class=Route)

ALICE = {
    "username": "alice",
    "email": "alice@example.com",
    "password": "correct horse battery staple",
    "display_name": "Alice",
}


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    response_model=UserPrivate,
    dependencies=[WriteRateLimit],
    summary="Register an account",
    description="Create an account, then log in with `POST /auth/token`. Usernames are 3-32 "
    "of `a-z 0-9 _`; passwords 8-128 characters. 409 when the username or email is taken.",
    responses=error_responses(Conflict("That username or email is already taken."))
    | success_headers(201, LOCATION),
    openapi_extra=body_examples(
        {
            "A new account": ALICE,
            "Without a display name": {k: v for k, v in ALICE.items() if k != "display_name"},
        }
    ),
)
async def register(new_user: NewUser, session: SessionDep, response: Response) -> UserPrivate:
    """The password is hashed before the session is opened (`NewUser` comes first)."""
    user = await service.register(session, new_user)
    response.headers["Location"] = f"/api/v1/users/{user.id}"
    return UserPrivate.model_validate(user)


@auth_router.post(
    "/auth/token",
    response_model=Token,
    summary="Log in (OAuth2 password form)",
    description="Exchange a username and password for a bearer token: send them as an HTML "
    "form (`application/x-www-form-urlencoded`, not JSON), then send "
    "`Authorization: Bearer <access_token>`. The token lasts `expires_in` seconds; changing the "
    "password or deleting the account revokes it. Failed attempts are limited per username "
    "(`LOGIN_RATE_LIMIT`) and per client address (`LOGIN_ADDRESS_RATE_LIMIT`); successful ones "
    "are not counted.",
    responses=error_responses(Unauthorized("Incorrect username or password.")),
    openapi_extra=body_examples(
        {"Log in": {"username": "alice", "password": "correct horse battery staple"}},
        media_type="application/x-www-form-urlencoded",
    ),
)
async def login(
    request: Request,
    form: Annotated[LoginForm, Depends()],
    sessionmaker: SessionMakerDep,
    hashing: HashingDep,
    throttle: LoginThrottleDep,
) -> Token:
    """No session of the request: the user is read in a short one, closed before argon2 runs.
    The throttle refuses a spent budget before either, and counts only a failure."""
    async with throttle.attempt(form.username):
        user = await service.authenticate(
            request, sessionmaker, hashing, form.username, form.password
        )
    settings = USERS_SETTINGS.of(request)
    assert user.id is not None
    token = create_access_token(settings, user_id=user.id, token_version=user.token_version)
    return Token(access_token=token, expires_in=settings.jwt_expire_seconds)


@router.get(
    "/users/me",
    response_model=UserPrivate,
    summary="Read my account",
    description="Your own account, with the email and role that the public view never shows.",
)
async def read_me(user: CurrentUser) -> UserPrivate:
    return UserPrivate.model_validate(user)


@router.patch(
    "/users/me",
    response_model=UserPrivate,
    dependencies=[WriteRateLimit],
    summary="Update my account",
    description="Change only the fields sent. A new password revokes every token issued "
    "before it (log in again). 409 when the email is taken.",
    responses=error_responses(Conflict("That email is already taken.")),
    openapi_extra=body_examples(
        {
            "New display name": {"display_name": "Alice L."},
            "New password": {"password": "another long passphrase"},
        }
    ),
)
async def update_me(
    change: AccountChangeDep, user: CurrentUser, session: SessionDep
) -> UserPrivate:
    """A new password is hashed before `CurrentUser` opens the session (`change` comes first)."""
    updated = await service.update(session, user, change.data, change.password_hash)
    return UserPrivate.model_validate(updated)


@router.put(
    "/users/me/profile",
    response_model=ProfilePublic,
    dependencies=[WriteRateLimit],
    summary="Replace my profile",
    description="PUT semantics: the whole profile is replaced; omitted fields become empty.",
    openapi_extra=body_examples(
        {
            "A profile": {
                "bio": "Writes about databases.",
                "location": "Lisbon",
                "website": "https://alice.example.com",
                "links": {"mastodon": "https://social.example/@alice"},
            }
        }
    ),
)
async def put_my_profile(
    data: ProfileUpdate, user: CurrentUser, session: SessionDep
) -> ProfilePublic:
    return await service.put_profile(session, user, data)


@router.delete(
    "/users/me",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[WriteRateLimit],
    summary="Delete my account",
    description="Deletes the account and everything it owns: posts, comments, likes, follows "
    "and profile. Its tokens stop working at once.",
)
async def delete_me(user: CurrentUser, session: SessionDep) -> None:
    await service.delete(session, user)


@router.get(
    "/users",
    response_model=Page[UserPublic],
    summary="List users",
    description="Every user's public view, oldest first, a keyset page at a time.",
)
async def list_users(session: ReadSessionDep, pager: PagerDep) -> Page[UserPublic]:
    return await service.list_users(session, pager=pager)


@router.get(
    "/users/{user_id:id}",
    response_model=UserPublic,
    summary="Read a user",
    description="A user's public view (never the email).",
)
async def read_user(user_id: IdPath, session: ReadSessionDep) -> UserPublic:
    return UserPublic.model_validate(await service.get(session, user_id))


@router.get(
    "/users/{user_id:id}/profile",
    response_model=ProfilePublic,
    summary="Read a user's profile",
    description="A user without a saved profile has an empty one.",
)
async def read_profile(user_id: IdPath, session: ReadSessionDep) -> ProfilePublic:
    return await service.get_profile(session, user_id)
