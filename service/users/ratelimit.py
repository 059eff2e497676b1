"""Login throttling: per client address AND per username, so that neither brute force from one
address nor credential stuffing from many gets far (LOGIN_RATE_LIMIT, e.g. "10/minute")."""

from fastapi import Depends, Request

from service.kit.http.answers import declares
from service.kit.http.ratelimit import (
    RATE_LIMITER,
    client_address,
    limit_item,
    refusal_example,
    refused,
)
from service.users.settings import USERS_SETTINGS, UsersSettings


@declares(refusal_example("login attempts", "login_rate_limit", UsersSettings))
async def throttle_login(request: Request) -> None:
    """Route dependency for a login form; the form is parsed once and cached on the request.

    Both keys are checked before either is counted: a refused attempt costs nothing.
    """
    username = (await request.form()).get("username")
    name = username.strip().lower() if isinstance(username, str) else ""
    limiter = RATE_LIMITER.of(request)
    value = USERS_SETTINGS.of(request).login_rate_limit
    item = limit_item(value)
    keys = (("login-address", client_address(request)), ("login-username", name))
    for key in keys:
        verdict = await limiter.check(item, *key)
        if not verdict.allowed:
            raise refused(
                verdict,
                "login attempts",
                "LOGIN_RATE_LIMIT",
                f"{value}, per address and per username",
            )
    for key in keys:
        await limiter.hit(item, *key)


LoginThrottle = Depends(throttle_login)
