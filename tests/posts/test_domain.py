"""Posts beyond CRUD: likes, filters, sorts, search, top, bulk, slugs, soft delete everywhere."""

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.posts import repository
from tests.support.accounts import AccountFactory
from tests.support.api import API, POSTS, create_post, pages, problem
from tests.support.statements import StatementCounter


async def test_like_is_idempotent_and_does_not_bump_version(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    alice, bob, carol = await make_account(), await make_account(), await make_account()
    post = await create_post(client, alice)
    url = f"{POSTS}/{post['id']}/like"
    first = await client.put(url, headers=bob.headers)
    assert first.status_code == 200, first.text
    assert first.json() == {"post_id": post["id"], "liked": True, "like_count": 1}
    assert (await client.put(url, headers=bob.headers)).json()["like_count"] == 1
    assert (await client.put(url, headers=carol.headers)).json()["like_count"] == 2
    read = await client.get(f"{POSTS}/{post['id']}")
    assert read.json()["like_count"] == 2
    assert read.json()["version"] == post["version"]  # likes never move the version...
    # ... but they change the representation, so its ETag: a tag read before them is stale.
    before_likes = {**alice.headers, "If-Match": f'"{post["id"]}-{post["version"]}"'}
    problem(
        await client.patch(f"{POSTS}/{post['id']}", json={"title": "X"}, headers=before_likes), 412
    )
    current = {**alice.headers, "If-Match": read.headers["etag"]}
    patched = await client.patch(f"{POSTS}/{post['id']}", json={"title": "New"}, headers=current)
    assert patched.status_code == 200, patched.text
    assert patched.json()["like_count"] == 2
    unliked = await client.delete(url, headers=bob.headers)
    assert unliked.json() == {"post_id": post["id"], "liked": False, "like_count": 1}
    assert (await client.delete(url, headers=bob.headers)).json()["like_count"] == 1


async def test_like_errors(client: AsyncClient, make_account: AccountFactory) -> None:
    alice, bob = await make_account(), await make_account()
    draft = await create_post(client, alice, status="draft")
    problem(await client.put(f"{POSTS}/{draft['id']}/like", headers=bob.headers), 404)
    problem(await client.put(f"{POSTS}/999999/like", headers=bob.headers), 404)
    problem(await client.put(f"{POSTS}/{draft['id']}/like"), 401)
    problem(await client.put(f"{POSTS}/0/like", headers=bob.headers), 422)
    gone = await create_post(client, alice)
    await client.delete(f"{POSTS}/{gone['id']}", headers=alice.headers)
    problem(await client.put(f"{POSTS}/{gone['id']}/like", headers=bob.headers), 404)
    problem(await client.delete(f"{POSTS}/{gone['id']}/like", headers=bob.headers), 404)


async def test_sort_by_like_count_is_keyset_paginated_with_ties(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    author = await make_account()
    fans = [await make_account() for _ in range(3)]
    posts = [await create_post(client, author) for _ in range(5)]
    for fan in fans:
        await client.put(f"{POSTS}/{posts[1]['id']}/like", headers=fan.headers)
    for fan in fans[:2]:
        await client.put(f"{POSTS}/{posts[3]['id']}/like", headers=fan.headers)
    got = await pages(client, POSTS, author_id=author.id, sort="-like_count", limit=2)
    ids = [p["id"] for page in got for p in page]
    zero_likes = sorted((posts[i]["id"] for i in (0, 2, 4)), reverse=True)
    assert ids == [posts[1]["id"], posts[3]["id"], *zero_likes]
    oldest = await pages(client, POSTS, author_id=author.id, sort="created_at", limit=2)
    assert [p["id"] for page in oldest for p in page] == [p["id"] for p in posts]


async def test_meta_filter(client: AsyncClient, make_account: AccountFactory) -> None:
    alice = await make_account()
    hit = await create_post(client, alice, metadata={"lang": "en", "n": 1})
    await create_post(client, alice, metadata={"lang": "fr"})
    await create_post(client, alice)
    response = await client.get(POSTS, params={"meta": "lang:en", "author_id": alice.id})
    assert [p["id"] for p in response.json()["items"]] == [hit["id"]]
    problem(await client.get(POSTS, params={"meta": "nokey"}), 400)
    problem(await client.get(POSTS, params={"meta": 'bad"key:x'}), 400)


async def test_commented_by_filter(client: AsyncClient, make_account: AccountFactory) -> None:
    alice, bob = await make_account(), await make_account()
    commented = await create_post(client, alice)
    await create_post(client, alice)
    await client.post(
        f"{POSTS}/{commented['id']}/comments", json={"body": "hi"}, headers=bob.headers
    )
    response = await client.get(POSTS, params={"commented_by": bob.id})
    assert [p["id"] for p in response.json()["items"]] == [commented["id"]]


async def test_full_text_search_ranked_and_as_filter(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    alice = await make_account()
    strong = await create_post(
        client, alice, title="Walrus walrus", body="walruses and more walrus facts"
    )
    weak = await create_post(client, alice, title="Animals", body="a walrus appears once here")
    await create_post(client, alice, title="Other", body="nothing to see")
    draft = await create_post(client, alice, title="Walrus draft", body="walrus", status="draft")
    response = await client.get(f"{POSTS}/search", params={"q": "walrus"})
    assert response.status_code == 200, response.text
    ids = [p["id"] for p in response.json()]
    assert ids == [strong["id"], weak["id"]]
    assert draft["id"] not in ids
    # Stemming on both backends: "walruses" matches "walrus".
    stemmed = await client.get(f"{POSTS}/search", params={"q": "walruses facts"})
    assert [p["id"] for p in stemmed.json()] == [strong["id"]]
    # FTS syntax in user input is inert.
    odd = await client.get(f"{POSTS}/search", params={"q": '"walrus" AND ( NEAR'})
    assert odd.status_code == 200
    as_filter = await client.get(POSTS, params={"q": "walrus", "author_id": alice.id})
    assert {p["id"] for p in as_filter.json()["items"]} == {strong["id"], weak["id"]}
    # Updates are re-indexed (trigger on SQLite, generated column on PostgreSQL).
    await client.patch(f"{POSTS}/{weak['id']}", json={"body": "no more"}, headers=alice.headers)
    again = await client.get(f"{POSTS}/search", params={"q": "walrus"})
    assert [p["id"] for p in again.json()] == [strong["id"]]
    # Only stop words (PostgreSQL drops them; SQLite FTS5 keeps them): never an error.
    assert (await client.get(f"{POSTS}/search", params={"q": "the"})).status_code == 200
    assert (await client.get(f"{POSTS}/search", params={"q": "!!!"})).json() == []
    problem(await client.get(f"{POSTS}/search"), 422)
    problem(await client.get(f"{POSTS}/search", params={"q": "x", "limit": 101}), 422)


async def test_search_syntax_is_the_same_on_both_backends(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    alice = await make_account()
    a = await create_post(client, alice, title="Otters", body="river otters eat crayfish")
    b = await create_post(client, alice, title="Beavers", body="river beavers build dams")
    c = await create_post(client, alice, title="Crayfish", body="crayfish hide under rocks")

    async def ids(q: str) -> set[int]:
        response = await client.get(f"{POSTS}/search", params={"q": q})
        assert response.status_code == 200, response.text
        return {p["id"] for p in response.json()}

    assert await ids("river") == {a["id"], b["id"]}
    assert await ids("river crayfish") == {a["id"]}
    assert await ids("river -crayfish") == {b["id"]}
    assert await ids("-crayfish river") == {b["id"]}
    assert await ids("dams or rocks") == {b["id"], c["id"]}
    assert await ids('"river otters"') == {a["id"]}
    assert await ids('"otters eat"') == {a["id"]}
    assert await ids('"eat otters"') == set()


async def test_search_text_with_quotes_and_backslashes_is_only_text(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    """PostgreSQL gets the search text as an escaped literal (see repository.best_matches)."""
    alice = await make_account()
    post = await create_post(client, alice, title="Quotes", body="it's a walrus")
    for q in ("it's walrus", "walrus'); DELETE FROM posts; --", "walrus \\' \\", "'"):
        response = await client.get(f"{POSTS}/search", params={"q": q})
        assert response.status_code == 200, (q, response.text)
    found = await client.get(f"{POSTS}/search", params={"q": "it's walrus"})
    assert [p["id"] for p in found.json()] == [post["id"]]
    assert (await client.get(f"{POSTS}/{post['id']}")).status_code == 200


@pytest.mark.postgres_only
async def test_search_ranks_only_the_newest_candidates(
    client: AsyncClient, make_account: AccountFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = await make_account()
    best = await create_post(client, alice, title="Narwhal narwhal", body="narwhal narwhal")
    newer = [await create_post(client, alice, body="one narwhal") for _ in range(2)]
    monkeypatch.setattr(repository, "SEARCH_CANDIDATES", 2)
    found = await client.get(f"{POSTS}/search", params={"q": "narwhal"})
    assert {p["id"] for p in found.json()} == {p["id"] for p in newer}
    monkeypatch.setattr(repository, "SEARCH_CANDIDATES", 3)
    found = await client.get(f"{POSTS}/search", params={"q": "narwhal"})
    assert found.json()[0]["id"] == best["id"]


async def test_top_per_author_uses_row_number(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    authors = [await make_account() for _ in range(2)]
    fans = [await make_account() for _ in range(3)]
    best: dict[int, list[int]] = {}
    for author in authors:
        posts = [await create_post(client, author) for _ in range(3)]
        for likes, post in zip((3, 1, 2), posts, strict=True):
            for fan in fans[:likes]:
                await client.put(f"{POSTS}/{post['id']}/like", headers=fan.headers)
        best[author.id] = [posts[0]["id"], posts[2]["id"]]
    response = await client.get(f"{POSTS}/top", params={"per_author": 2, "limit": 100})
    assert response.status_code == 200, response.text
    mine = [p for p in response.json()["items"] if p["author"]["id"] in best]
    assert len(mine) == 4
    for author_id, ids in best.items():
        assert [p["id"] for p in mine if p["author"]["id"] == author_id] == ids
    assert [p["like_count"] for p in mine] == [3, 3, 2, 2]
    problem(await client.get(f"{POSTS}/top", params={"per_author": 0}), 422)


async def test_soft_deleted_post_is_absent_everywhere_and_restore_brings_it_back(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    alice, bob = await make_account(), await make_account()
    post = await create_post(client, alice, title="Zanzibar", body="zanzibar", tags=["gone"])
    await client.put(f"{POSTS}/{post['id']}/like", headers=bob.headers)
    comment = await client.post(
        f"{POSTS}/{post['id']}/comments", json={"body": "hi"}, headers=bob.headers
    )
    comment_id = comment.json()["id"]

    async def visible() -> dict[str, bool]:
        listed = (await client.get(POSTS, params={"author_id": alice.id})).json()["items"]
        found = (await client.get(f"{POSTS}/search", params={"q": "zanzibar"})).json()
        top = (await client.get(f"{POSTS}/top", params={"limit": 100})).json()["items"]
        tags = (await client.get(f"{API}/tags")).json()
        stats = (await client.get(f"{API}/users/{alice.id}/stats")).json()
        comments = await client.get(f"{POSTS}/{post['id']}/comments")
        replies = await client.get(f"{API}/comments/{comment_id}/replies")
        direct = await client.get(f"{POSTS}/{post['id']}")
        by_tag = (await client.get(POSTS, params={"tag": "gone"})).json()["items"]
        return {
            "list": any(p["id"] == post["id"] for p in listed),
            "search": any(p["id"] == post["id"] for p in found),
            "top": any(p["id"] == post["id"] for p in top),
            "tags": any(t["name"] == "gone" for t in tags),
            "stats": stats["posts"] == 1 and stats["likes_received"] == 1,
            "comments": comments.status_code == 200,
            "replies": replies.status_code == 200,
            "direct": direct.status_code == 200,
            "tag filter": bool(by_tag),
        }

    assert all((await visible()).values()), await visible()
    assert (await client.delete(f"{POSTS}/{post['id']}", headers=alice.headers)).status_code == 204
    assert not any((await visible()).values()), await visible()
    restored = await client.post(f"{POSTS}/{post['id']}/restore", headers=alice.headers)
    assert restored.status_code == 200, restored.text
    assert all((await visible()).values()), await visible()


async def test_slug_is_derived_unique_and_stable(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    alice = await make_account()
    first = await create_post(client, alice, title="Héllo, World! 2026")
    assert first["slug"] == "hello-world-2026"
    second = await create_post(client, alice, title="Hello world 2026")
    assert second["slug"].startswith("hello-world-2026-")
    assert len(second["slug"]) == len("hello-world-2026-") + 6
    patched = await client.patch(
        f"{POSTS}/{first['id']}", json={"title": "Renamed"}, headers=alice.headers
    )
    assert patched.json()["slug"] == "hello-world-2026"
    explicit = await create_post(client, alice, slug="my-own-slug")
    assert explicit["slug"] == "my-own-slug"
    taken = await client.post(
        POSTS, json={"title": "t", "body": "b", "slug": "my-own-slug"}, headers=alice.headers
    )
    problem(taken, 409)
    bad = await client.post(
        POSTS, json={"title": "t", "body": "b", "slug": "Not A Slug"}, headers=alice.headers
    )
    problem(bad, 422)


async def test_bulk_keeps_good_rows_and_reports_bad_ones(
    client: AsyncClient, make_account: AccountFactory, connection: AsyncConnection
) -> None:
    alice = await make_account()
    await create_post(client, alice, slug="taken-slug")
    items = [
        {"title": "One", "body": "b", "status": "published", "tags": ["bulk", "one"]},
        {"title": "", "body": "b"},  # invalid: reported, not a 422 of the request
        {"title": "Three", "body": "b", "slug": "taken-slug"},  # constraint: savepoint
        {"title": "One", "body": "b", "tags": ["bulk"], "id": 5},  # unknown field
        {"title": "One", "body": "b", "tags": ["BULK"]},
        "not an object",
    ]
    response = await client.post(f"{POSTS}/bulk", json={"items": items}, headers=alice.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert [e["index"] for e in body["errors"]] == [1, 2, 3, 5]
    assert "slug" in body["errors"][1]["detail"]
    assert "title" in body["errors"][0]["detail"]
    assert len(body["created"]) == 2
    read = [
        (await client.get(f"{POSTS}/{i}", headers=alice.headers)).json() for i in body["created"]
    ]
    assert [p["tags"] for p in read] == [["bulk", "one"], ["bulk"]]
    slugs = [p["slug"] for p in read]
    assert slugs[0] == "one"
    assert slugs[1].startswith("one-")
    tag_rows = await connection.execute(text("SELECT count(*) FROM tags WHERE name = 'bulk'"))
    assert tag_rows.scalar_one() == 1


async def test_bulk_limits(client: AsyncClient, make_account: AccountFactory) -> None:
    alice = await make_account()
    too_many = [{"title": "t", "body": "b"}] * 1001
    problem(
        await client.post(f"{POSTS}/bulk", json={"items": too_many}, headers=alice.headers), 422
    )
    problem(await client.post(f"{POSTS}/bulk", json={"items": []}, headers=alice.headers), 422)
    problem(await client.post(f"{POSTS}/bulk", json={"items": [{"title": "t"}]}), 401)


async def test_bulk_thousand_rows(
    client: AsyncClient, make_account: AccountFactory, statements: StatementCounter
) -> None:
    alice = await make_account()
    items = [{"title": f"Post {i}", "body": "b", "tags": [f"t{i % 7}"]} for i in range(1000)]
    statements.count = 0
    response = await client.post(f"{POSTS}/bulk", json={"items": items}, headers=alice.headers)
    assert response.status_code == 201, response.text
    assert len(response.json()["created"]) == 1000
    # Auth, slug lookup, insert, tag upsert + select, link insert, savepoints: a constant few.
    assert statements.count < 20, statements.count


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"sort": "-like_count"},
        {"sort": "created_at"},
        {"tag": "common"},
        {"q": "common"},
        {"meta": "k:v"},
    ],
)
async def test_post_lists_run_a_constant_number_of_statements(
    client: AsyncClient,
    make_account: AccountFactory,
    statements: StatementCounter,
    params: dict[str, str],
) -> None:
    authors = [await make_account() for _ in range(6)]
    for author in authors:
        await create_post(
            client, author, title="common", body="common", tags=["common", "x"], metadata={"k": "v"}
        )
    counts = []
    for limit in (1, 6):
        statements.count = 0
        response = await client.get(POSTS, params={**params, "limit": limit})
        assert response.status_code == 200
        assert len(response.json()["items"]) == limit
        counts.append(statements.count)
    assert counts[0] == counts[1], counts
    # Savepoint + posts with authors (JOIN) + tags (one SELECT IN) + release.
    assert counts[0] <= 4, counts


@pytest.mark.parametrize("path", ["search?q=common", "top?per_author=1"])
async def test_search_and_top_run_a_constant_number_of_statements(
    client: AsyncClient, make_account: AccountFactory, statements: StatementCounter, path: str
) -> None:
    authors = [await make_account() for _ in range(6)]
    for author in authors:
        await create_post(client, author, title="common", body="common", tags=["a", "b"])
    counts = []
    for limit in (1, 6):
        statements.count = 0
        assert (await client.get(f"{POSTS}/{path}&limit={limit}")).status_code == 200
        counts.append(statements.count)
    assert counts[0] == counts[1], counts
