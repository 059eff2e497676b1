"""Authentication dependencies shared by every domain's router."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from service.core.db import SessionDep
from service.core.errors import Unauthorized
from service.core.observability import bind_user
from service.core.security import decode_access_token
from service.users import repository
from service.users.models import User

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def get_optional_user(
    request: Request, session: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> User | None:
    if token is None:
        return None
    claims = decode_access_token(request.app.state.settings, token)
    if claims is None:
        raise Unauthorized("The access token is invalid or expired.")
    user = await repository.get_by_id(session, claims.user_id)
    if user is None or user.token_version != claims.token_version:
        raise Unauthorized("The access token is no longer valid.")
    bind_user(user.id)
    return user


async def get_current_user(user: Annotated[User | None, Depends(get_optional_user)]) -> User:
    if user is None:
        raise Unauthorized("Authentication required.")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
OptionalUser = Annotated[User | None, Depends(get_optional_user)]
