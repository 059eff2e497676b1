"""Small HTTP helpers shared by the domain tests."""

import uuid
from collections.abc import Mapping
from typing import Any, NamedTuple

from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response

from service.users.security import create_access_token
from service.users.settings import UsersSettings
from tests.support.accounts import PASSWORD, Account
from tests.support.problems import assert_problem as problem

API = "/api/v1"
POSTS = f"{API}/posts"

__all__ = [
    "API",
    "POSTS",
    "Registered",
    "asgi_client",
    "create_comment",
    "create_post",
    "create_post_as",
    "pages",
    "problem",
    "register",
    "register_with_token",
]


def asgi_client(app: FastAPI, *, timeout: float = 5.0) -> AsyncClient:
    """A client of `app` in process (no server, no lifespan)."""
    return AsyncClient(transport=ASGITransport(app), base_url="http://test", timeout=timeout)


async def create_comment(
    client: AsyncClient,
    account: Account,
    post_id: int,
    *,
    body: str = "hello",
    parent: str | None = None,
) -> Response:
    """`POST /posts/{post_id}/comments` as `account` (a reply with `parent`); asserts the 201."""
    payload = {"body": body, **({"parent_id": parent} if parent else {})}
    response = await client.post(
        f"{POSTS}/{post_id}/comments", json=payload, headers=account.headers
    )
    assert response.status_code == 201, response.text
    return response


async def create_post(
    client: AsyncClient, account: Account, *, status: str = "published", **fields: Any
) -> dict[str, Any]:
    """POST /posts as `account` (a title and a body unless `fields` say otherwise); the 201 body."""
    return await create_post_as(client, account.headers, status=status, **fields)


async def create_post_as(
    client: AsyncClient, headers: Mapping[str, str], *, status: str = "published", **fields: Any
) -> dict[str, Any]:
    """`create_post` for a caller known only by its headers (a user made without an Account)."""
    payload = {"title": "A title", "body": "Some body text", "status": status, **fields}
    response = await client.post(POSTS, json=payload, headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


class Registered(NamedTuple):
    """A user made through the API: its id and its bearer header."""

    id: int
    headers: dict[str, str]


async def register(
    client: AsyncClient, name: str | None = None, *, password: str = PASSWORD
) -> Registered:
    """A new user through the API (POST /users; a generated name unless given), logged in
    through POST /auth/token."""
    name = name or _fresh_name()
    user_id = await _create_user(client, name, password)
    login = await client.post(f"{API}/auth/token", data={"username": name, "password": password})
    assert login.status_code == 200, login.text
    return Registered(user_id, {"Authorization": f"Bearer {login.json()['access_token']}"})


async def register_with_token(
    client: AsyncClient,
    settings: UsersSettings,
    name: str | None = None,
    *,
    password: str = PASSWORD,
) -> Registered:
    """A new user through the API with a token minted from `settings` instead of a login
    (no argon2 verify, and no read of the new row, which a replica may not have yet)."""
    user_id = await _create_user(client, name or _fresh_name(), password)
    token = create_access_token(settings, user_id=user_id, token_version=0)
    return Registered(user_id, {"Authorization": f"Bearer {token}"})


def _fresh_name() -> str:
    return f"user_{uuid.uuid4().hex[:16]}"


async def _create_user(client: AsyncClient, name: str, password: str) -> int:
    user = {"username": name, "email": f"{name}@example.com", "password": password}
    created = await client.post(f"{API}/users", json=user)
    assert created.status_code == 201, created.text
    user_id: int = created.json()["id"]
    return user_id


async def pages(
    client: AsyncClient, url: str, *, headers: Mapping[str, str] | None = None, **params: Any
) -> list[list[dict[str, Any]]]:
    """Every page of a keyset listing, following `next_cursor` to the end (as `headers`' caller)."""
    result: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(url, params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        result.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return result
