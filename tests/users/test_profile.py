from httpx import AsyncClient

from tests.support.accounts import AccountFactory
from tests.support.api import API, problem


async def test_profile_is_empty_then_replaced(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    alice = await make_account()
    url = f"{API}/users/{alice.id}/profile"
    empty = await client.get(url)
    assert empty.status_code == 200, empty.text
    assert empty.json() == {
        "user_id": alice.id,
        "bio": "",
        "location": "",
        "website": "",
        "links": {},
    }
    data = {"bio": "Hi", "location": "Oslo", "website": "https://a.example", "links": {"gh": "x"}}
    put = await client.put(f"{API}/users/me/profile", json=data, headers=alice.headers)
    assert put.status_code == 200, put.text
    assert put.json() == {"user_id": alice.id, **data}
    again = await client.put(f"{API}/users/me/profile", json={"bio": "Bye"}, headers=alice.headers)
    assert again.json() == {
        "user_id": alice.id,
        "bio": "Bye",
        "location": "",
        "website": "",
        "links": {},
    }
    assert (await client.get(url)).json()["bio"] == "Bye"


async def test_profile_errors(client: AsyncClient, make_account: AccountFactory) -> None:
    alice = await make_account()
    problem(await client.get(f"{API}/users/999999/profile"), 404)
    problem(await client.put(f"{API}/users/me/profile", json={"bio": "x"}), 401)
    for bad in ({"website": "javascript:x"}, {"bio": "x" * 2001}, {"user_id": 5}):
        response = await client.put(f"{API}/users/me/profile", json=bad, headers=alice.headers)
        problem(response, 422)
