from datetime import timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.kit.http.etags import strong_etag
from service.kit.model_base import utcnow
from tests.support.accounts import AccountFactory
from tests.support.api import create_post
from tests.support.problems import assert_problem
from tests.support.statements import StatementCounter

POSTS = "/api/v1/posts"


async def test_create_returns_location_etag_and_embedded_author(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    author = await make_account()
    response = await client.post(
        POSTS,
        json={"title": "T", "body": "B", "status": "published", "metadata": {"lang": "en"}},
        headers=author.headers,
    )
    assert response.status_code == 201, response.text
    post = response.json()
    assert response.headers["location"] == f"{POSTS}/{post['id']}"
    assert response.headers["etag"] == strong_etag(response.content)  # the hash of the body
    assert post["author"] == {
        "id": author.id,
        "username": author.user.username,
        "display_name": None,
        "created_at": post["author"]["created_at"],
    }
    assert post["metadata"] == {"lang": "en"}
    assert post["version"] == 1
    assert post["like_count"] == 0

    fetched = await client.get(f"{POSTS}/{post['id']}")
    assert fetched.status_code == 200
    assert fetched.headers["etag"] == response.headers["etag"]
    assert fetched.json() == post
    assert fetched.content == response.content  # the same representation, byte for byte


async def test_create_needs_auth_and_rejects_server_owned_fields(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    assert_problem(await client.post(POSTS, json={"title": "T", "body": "B"}), 401)
    author = await make_account()
    for field, value in [("author_id", 1), ("like_count", 5), ("version", 9), ("id", 1)]:
        response = await client.post(
            POSTS, json={"title": "T", "body": "B", field: value}, headers=author.headers
        )
        assert_problem(response, 422)


async def test_metadata_is_bounded(client: AsyncClient, make_account: AccountFactory) -> None:
    author = await make_account()
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(10):
        node["k"] = {}
        node = node["k"]
    big = {"k": "x" * 20_000}
    for metadata in (deep, big):
        response = await client.post(
            POSTS, json={"title": "T", "body": "B", "metadata": metadata}, headers=author.headers
        )
        assert_problem(response, 422)


async def test_drafts_are_private_to_their_author(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    author, other = await make_account(), await make_account()
    draft = await create_post(client, author, status="draft")
    assert (await client.get(f"{POSTS}/{draft['id']}", headers=author.headers)).status_code == 200
    assert_problem(await client.get(f"{POSTS}/{draft['id']}", headers=other.headers), 404)
    assert_problem(await client.get(f"{POSTS}/{draft['id']}"), 404)

    mine = await client.get(POSTS, params={"status": "draft"}, headers=author.headers)
    assert [p["id"] for p in mine.json()["items"]] == [draft["id"]]
    theirs = await client.get(POSTS, params={"status": "draft"}, headers=other.headers)
    assert theirs.json()["items"] == []
    assert_problem(await client.get(POSTS, params={"status": "draft"}), 401)


async def test_list_filters_and_sorts(client: AsyncClient, make_account: AccountFactory) -> None:
    alice, bob = await make_account(), await make_account()
    a1 = await create_post(client, alice, title="a1")
    b1 = await create_post(client, bob, title="b1")
    a2 = await create_post(client, alice, title="a2")

    newest = (await client.get(POSTS, params={"author_id": alice.id})).json()["items"]
    assert [p["id"] for p in newest] == [a2["id"], a1["id"]]
    oldest = await client.get(POSTS, params={"author_id": alice.id, "sort": "created_at"})
    assert [p["id"] for p in oldest.json()["items"]] == [a1["id"], a2["id"]]

    everything = (await client.get(POSTS, params={"limit": 100})).json()["items"]
    ids = [p["id"] for p in everything]
    assert ids.index(a2["id"]) < ids.index(b1["id"]) < ids.index(a1["id"])

    window = {"created_after": b1["created_at"], "created_before": a2["created_at"]}
    between = (await client.get(POSTS, params=window)).json()["items"]
    assert [p["id"] for p in between] == [b1["id"]]
    future = (utcnow() + timedelta(days=1)).isoformat()
    later = (await client.get(POSTS, params={"created_after": future})).json()
    assert later == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"sort": "title"}])
async def test_list_rejects_bad_parameters(client: AsyncClient, params: dict[str, Any]) -> None:
    assert_problem(await client.get(POSTS, params=params), 422)


async def test_list_runs_the_same_statements_for_any_page_size(
    client: AsyncClient, make_account: AccountFactory, statements: StatementCounter
) -> None:
    authors = [await make_account() for _ in range(3)]
    for i in range(12):
        await create_post(client, authors[i % 3], title=f"p{i}")
    counts = {}
    for limit in (5, 100):
        statements.count = 0
        response = await client.get(POSTS, params={"limit": limit})
        assert response.status_code == 200
        counts[limit] = statements.count
    assert counts[5] == counts[100]


async def test_owner_updates_with_optimistic_locking(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    author, other = await make_account(), await make_account()
    post = await create_post(client, author)
    url = f"{POSTS}/{post['id']}"

    assert_problem(await client.patch(url, json={"title": "x"}, headers=other.headers), 403)
    assert_problem(await client.patch(url, json={"title": "x"}), 401)
    assert_problem(await client.patch(url, json={"version": 7}, headers=author.headers), 422)

    tag = (await client.get(url)).headers["etag"]
    first = await client.patch(
        url, json={"title": "New"}, headers=author.headers | {"If-Match": tag}
    )
    assert first.status_code == 200, first.text
    assert first.json()["title"] == "New"
    assert first.json()["version"] == 2
    assert first.headers["etag"] == (await client.get(url)).headers["etag"] != tag
    assert first.json()["updated_at"] > post["updated_at"]

    stale = await client.patch(
        url, json={"title": "Lost"}, headers=author.headers | {"If-Match": tag}
    )
    assert_problem(stale, 412)
    assert (await client.get(url)).json()["title"] == "New"

    unconditional = await client.patch(url, json={"body": "b2"}, headers=author.headers)
    assert unconditional.json()["version"] == 3


async def test_soft_delete_and_restore(
    client: AsyncClient, make_account: AccountFactory, connection: AsyncConnection
) -> None:
    author, other = await make_account(), await make_account()
    post = await create_post(client, author)
    url = f"{POSTS}/{post['id']}"

    assert_problem(await client.delete(url, headers=other.headers), 403)
    assert (await client.delete(url, headers=author.headers)).status_code == 204
    assert_problem(await client.get(url), 404)
    listed = (await client.get(POSTS, params={"author_id": author.id})).json()["items"]
    assert listed == []
    assert_problem(await client.delete(url, headers=author.headers), 404)
    row = await connection.execute(
        text("SELECT deleted_at FROM posts WHERE id = :id"), {"id": post["id"]}
    )
    assert row.scalar_one() is not None

    # A deleted post exists only for its owner (and moderators): 404 to anyone else (SPEC).
    assert_problem(await client.post(f"{url}/restore", headers=other.headers), 404)
    restored = await client.post(f"{url}/restore", headers=author.headers)
    assert restored.status_code == 200
    assert (await client.get(url)).status_code == 200


async def test_missing_post_is_a_problem_404(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    author = await make_account()
    assert_problem(await client.get(f"{POSTS}/999999"), 404)
    assert_problem(
        await client.patch(f"{POSTS}/999999", json={"title": "x"}, headers=author.headers), 404
    )
    # ids are typed in the path (`{post_id:id}`): a non-numeric id matches no route (docs/http.md)
    assert_problem(await client.get(f"{POSTS}/not-a-number"), 404)
