"""405 for a method a path does not serve: `Allow` lists all of the path's methods, and a fixed
path (`/users/me/profile`, `/posts/search`) never falls into its `{id}` sibling (a 422 on "me")."""

import pytest
from httpx import AsyncClient

from tests.support.problems import assert_problem

API = "/api/v1"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("OPTIONS", "/posts", "GET, POST"),
        ("PUT", "/posts", "GET, POST"),
        ("PUT", "/posts/1", "DELETE, GET, PATCH"),
        ("OPTIONS", "/users/me", "DELETE, GET, PATCH"),
        ("POST", "/users/1/follow", "DELETE, PUT"),
        ("GET", "/users/me/profile", "PUT"),
        ("PATCH", "/posts/search", "GET"),
        ("DELETE", "/posts/top", "GET"),
        ("GET", "/posts/bulk", "DELETE, PATCH, POST"),
    ],
)
async def test_a_method_the_path_does_not_serve_is_405_with_its_allow(
    client: AsyncClient, method: str, path: str, allowed: str
) -> None:
    response = await client.request(method, API + path)
    body = assert_problem(response, 405)
    # HEAD goes with GET wherever a framework answers it; the rest must be exact.
    assert set(response.headers["allow"].split(", ")) - {"HEAD"} == set(allowed.split(", "))
    assert method in body["detail"]


async def test_the_parameterised_sibling_still_serves_its_ids(client: AsyncClient) -> None:
    assert_problem(await client.get(f"{API}/users/987654/profile"), 404)
    assert_problem(await client.patch(f"{API}/posts/987654", json={"title": "t"}), 401)
