from httpx import AsyncClient

from tests.support.accounts import AccountFactory
from tests.support.api import API, pages, problem
from tests.support.statements import StatementCounter


async def test_follow_is_idempotent_and_listed_both_ways(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    alice, bob, carol = await make_account(), await make_account(), await make_account()
    for follower in (bob, carol):
        response = await client.put(f"{API}/users/{alice.id}/follow", headers=follower.headers)
        assert response.status_code == 204, response.text
    assert (
        await client.put(f"{API}/users/{alice.id}/follow", headers=bob.headers)
    ).status_code == 204
    followers = await pages(client, f"{API}/users/{alice.id}/followers", limit=1)
    assert [p[0]["user"]["id"] for p in followers] == [carol.id, bob.id]
    assert all("followed_at" in p[0] for p in followers)
    following = (await client.get(f"{API}/users/{bob.id}/following")).json()["items"]
    assert [f["user"]["id"] for f in following] == [alice.id]
    assert "email" not in following[0]["user"]

    assert (
        await client.delete(f"{API}/users/{alice.id}/follow", headers=bob.headers)
    ).status_code == 204
    assert (
        await client.delete(f"{API}/users/{alice.id}/follow", headers=bob.headers)
    ).status_code == 204
    followers_left = (await client.get(f"{API}/users/{alice.id}/followers")).json()["items"]
    assert [f["user"]["id"] for f in followers_left] == [carol.id]


async def test_follow_errors(client: AsyncClient, make_account: AccountFactory) -> None:
    alice = await make_account()
    problem(await client.put(f"{API}/users/{alice.id}/follow", headers=alice.headers), 400)
    problem(await client.put(f"{API}/users/999999/follow", headers=alice.headers), 404)
    problem(await client.put(f"{API}/users/{alice.id}/follow"), 401)
    problem(await client.get(f"{API}/users/999999/followers"), 404)
    problem(await client.get(f"{API}/users/999999/following"), 404)
    problem(await client.get(f"{API}/users/{alice.id}/followers", params={"cursor": "x.y"}), 400)


async def test_follow_lists_run_a_constant_number_of_statements(
    client: AsyncClient, make_account: AccountFactory, statements: StatementCounter
) -> None:
    star = await make_account()
    fans = [await make_account() for _ in range(6)]
    for fan in fans:
        await client.put(f"{API}/users/{star.id}/follow", headers=fan.headers)
        await client.put(f"{API}/users/{fan.id}/follow", headers=star.headers)
    for path in ("followers", "following"):
        counts = []
        for limit in (1, 6):
            statements.count = 0
            response = await client.get(f"{API}/users/{star.id}/{path}", params={"limit": limit})
            assert len(response.json()["items"]) == limit
            counts.append(statements.count)
        assert counts[0] == counts[1], (path, counts)
