"""Small HTTP helpers shared by the domain tests."""

from collections.abc import Mapping
from typing import Any

from httpx import AsyncClient

from tests.support.accounts import Account
from tests.support.problems import assert_problem as problem

API = "/api/v1"
POSTS = f"{API}/posts"

__all__ = ["API", "POSTS", "create_post", "create_post_as", "pages", "problem"]


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


async def pages(client: AsyncClient, url: str, **params: Any) -> list[list[dict[str, Any]]]:
    """Every page of a keyset listing, following `next_cursor` to the end."""
    result: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(url, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        result.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return result
