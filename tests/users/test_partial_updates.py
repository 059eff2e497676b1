"""`PATCH /users/me` and `PUT /users/me/profile`: an explicit null is never silently ignored.
`display_name` is optional, so null clears it; every other field refuses null with a 422."""

import pytest
from httpx import AsyncClient

from tests.support.accounts import AccountFactory
from tests.support.api import API, problem

ME = f"{API}/users/me"


@pytest.mark.parametrize("field", ["email", "password"])
async def test_null_for_a_field_that_cannot_be_cleared_is_a_422(
    client: AsyncClient, make_account: AccountFactory, field: str
) -> None:
    alice = await make_account()
    body = problem(await client.patch(ME, json={field: None}, headers=alice.headers), 422)
    assert [error["loc"] for error in body["errors"]] == [["body", field]]


async def test_null_display_name_clears_it(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    alice = await make_account()
    named = await client.patch(ME, json={"display_name": "Alice"}, headers=alice.headers)
    assert named.json()["display_name"] == "Alice"
    kept = await client.patch(ME, json={}, headers=alice.headers)
    assert kept.json()["display_name"] == "Alice"
    cleared = await client.patch(ME, json={"display_name": None}, headers=alice.headers)
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["display_name"] is None


@pytest.mark.parametrize("field", ["bio", "location", "website", "links"])
async def test_profile_fields_refuse_null(
    client: AsyncClient, make_account: AccountFactory, field: str
) -> None:
    alice = await make_account()
    url = f"{ME}/profile"
    body = problem(await client.put(url, json={field: None}, headers=alice.headers), 422)
    assert [error["loc"] for error in body["errors"]] == [["body", field]]
