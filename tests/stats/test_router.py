from httpx import AsyncClient

from tests.support.accounts import AccountFactory
from tests.support.api import API, POSTS, create_post, problem
from tests.support.statements import StatementCounter


async def test_stats_in_one_statement(
    client: AsyncClient, make_account: AccountFactory, statements: StatementCounter
) -> None:
    alice, bob = await make_account(), await make_account()
    first = await create_post(client, alice)
    await create_post(client, alice)
    await create_post(client, alice, status="draft")
    await client.put(f"{POSTS}/{first['id']}/like", headers=bob.headers)
    await client.put(f"{POSTS}/{first['id']}/like", headers=alice.headers)
    await client.post(f"{POSTS}/{first['id']}/comments", json={"body": "x"}, headers=alice.headers)
    await client.put(f"{API}/users/{alice.id}/follow", headers=bob.headers)
    await client.put(f"{API}/users/{bob.id}/follow", headers=alice.headers)
    statements.count = 0
    response = await client.get(f"{API}/users/{alice.id}/stats")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "posts": 2,
        "comments": 1,
        "followers": 1,
        "following": 1,
        "likes_received": 2,
    }
    assert statements.count == 1, statements.count
    problem(await client.get(f"{API}/users/999999/stats"), 404)
    problem(await client.get(f"{API}/users/0/stats"), 422)
