from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.accounts import AccountFactory
from tests.support.api import API, POSTS, create_post, problem
from tests.support.statements import StatementCounter


async def test_tags_are_normalised_created_once_and_embedded(
    client: AsyncClient, make_account: AccountFactory, connection: AsyncConnection
) -> None:
    alice = await make_account()
    post = await create_post(client, alice, tags=["  Python ", "python", "Async  IO"])
    assert post["tags"] == ["async io", "python"]
    again = await create_post(client, alice, tags=["PYTHON"])
    assert again["tags"] == ["python"]
    rows = await connection.execute(text("SELECT count(*) FROM tags WHERE name = 'python'"))
    assert rows.scalar_one() == 1
    read = await client.get(f"{POSTS}/{post['id']}")
    assert read.json()["tags"] == ["async io", "python"]


async def test_bad_tags_are_422(client: AsyncClient, make_account: AccountFactory) -> None:
    alice = await make_account()
    for tags in (["  "], ["x" * 33], ["no,commas"], [f"t{i}" for i in range(11)]):
        payload = {"title": "t", "body": "b", "tags": tags}
        problem(await client.post(POSTS, json=payload, headers=alice.headers), 422)


async def test_patch_replaces_tags_and_bumps_version(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    alice = await make_account()
    post = await create_post(client, alice, tags=["a", "b"])
    response = await client.patch(
        f"{POSTS}/{post['id']}", json={"tags": ["c", "b"]}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["tags"] == ["b", "c"]
    assert response.json()["version"] == post["version"] + 1
    read = await client.get(f"{POSTS}/{post['id']}")
    assert read.json()["tags"] == ["b", "c"]


async def test_tag_counts_most_used_first_and_hide_deleted_posts(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    alice = await make_account()
    first = await create_post(client, alice, tags=["zeta", "common"])
    await create_post(client, alice, tags=["common"])
    await create_post(client, alice, tags=["draftonly"], status="draft")
    counts = {t["name"]: t["post_count"] for t in (await client.get(f"{API}/tags")).json()}
    assert counts == {"common": 2, "zeta": 1}
    listed = (await client.get(f"{API}/tags")).json()
    assert listed[0] == {"name": "common", "post_count": 2}

    await client.delete(f"{POSTS}/{first['id']}", headers=alice.headers)
    counts = {t["name"]: t["post_count"] for t in (await client.get(f"{API}/tags")).json()}
    assert counts == {"common": 1}
    problem(await client.get(f"{API}/tags", params={"limit": 0}), 422)


async def test_filter_posts_by_tag(client: AsyncClient, make_account: AccountFactory) -> None:
    alice = await make_account()
    tagged = await create_post(client, alice, tags=["Rust"])
    await create_post(client, alice, tags=["go"])
    response = await client.get(POSTS, params={"tag": " RUST ", "author_id": alice.id})
    assert [p["id"] for p in response.json()["items"]] == [tagged["id"]]
    problem(await client.get(POSTS, params={"tag": "a,b"}), 400)


async def test_tag_list_statement_count_is_constant(
    client: AsyncClient, make_account: AccountFactory, statements: StatementCounter
) -> None:
    alice = await make_account()
    for i in range(6):
        await create_post(client, alice, tags=[f"tag{i}", "shared"])
    counts = []
    for limit in (1, 6):
        statements.count = 0
        assert (await client.get(f"{API}/tags", params={"limit": limit})).status_code == 200
        counts.append(statements.count)
    assert counts[0] == counts[1], counts
