"""The reading list: `PUT`/`DELETE /posts/{id}/bookmark`, `GET /users/me/bookmarks`, and the
`bookmarked` flag every read of posts carries for a signed-in caller."""

from typing import Any

from httpx import AsyncClient

from tests.support.accounts import Account, AccountFactory
from tests.support.api import API, POSTS, create_post, pages, problem

BOOKMARKS = f"{API}/users/me/bookmarks"


async def _bookmark(client: AsyncClient, reader: Account, post_id: int) -> None:
    response = await client.put(f"{POSTS}/{post_id}/bookmark", headers=reader.headers)
    assert response.status_code == 204, response.text


async def _listed(client: AsyncClient, reader: Account, **params: Any) -> list[dict[str, Any]]:
    listed = await pages(client, BOOKMARKS, headers=reader.headers, **params)
    return [post for page in listed for post in page]


async def test_bookmarks_are_listed_most_recent_first_and_bookmarking_is_idempotent(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    reader, author = await make_account(), await make_account()
    ids = [(await create_post(client, author, title=f"t{i}"))["id"] for i in range(3)]
    for post_id in (ids[1], ids[0], ids[2]):
        await _bookmark(client, reader, post_id)
    first = await _listed(client, reader)
    await _bookmark(client, reader, ids[1])  # again: no new row, the first time stays
    listed = await _listed(client, reader, limit=1)
    assert [p["id"] for p in listed] == [ids[2], ids[0], ids[1]]
    assert listed == first
    assert all(p["bookmarked"] is True and "bookmarked_at" in p for p in listed)
    shown = (await client.get(f"{POSTS}/{ids[0]}")).json()
    assert {k: v for k, v in listed[1].items() if k not in ("bookmarked", "bookmarked_at")} == {
        k: v for k, v in shown.items() if k != "bookmarked"
    }


async def test_removing_is_idempotent_and_says_nothing_about_the_post(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    reader, author = await make_account(), await make_account()
    post_id = (await create_post(client, author))["id"]
    await _bookmark(client, reader, post_id)
    for target in (post_id, post_id, 999_999_999):
        response = await client.delete(f"{POSTS}/{target}/bookmark", headers=reader.headers)
        assert response.status_code == 204, response.text
    assert await _listed(client, reader) == []


async def test_a_post_that_becomes_invisible_drops_out_and_comes_back(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    reader, author = await make_account(), await make_account()
    kept, hidden, deleted = [(await create_post(client, author))["id"] for _ in range(3)]
    for post_id in (kept, hidden, deleted):
        await _bookmark(client, reader, post_id)
    unpublish = {"status": "draft"}
    assert (
        await client.patch(f"{POSTS}/{hidden}", json=unpublish, headers=author.headers)
    ).is_success
    assert (await client.delete(f"{POSTS}/{deleted}", headers=author.headers)).status_code == 204
    assert [p["id"] for p in await _listed(client, reader)] == [kept]
    restore = await client.post(f"{POSTS}/{deleted}/restore", headers=author.headers)
    assert restore.status_code == 200, restore.text
    assert [p["id"] for p in await _listed(client, reader)] == [deleted, kept]


async def test_you_may_bookmark_only_what_you_can_see(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    reader, author = await make_account(), await make_account()
    draft = (await create_post(client, author, status="draft"))["id"]
    problem(await client.put(f"{POSTS}/{draft}/bookmark", headers=reader.headers), 404)
    problem(await client.put(f"{POSTS}/999999999/bookmark", headers=reader.headers), 404)
    problem(await client.put(f"{POSTS}/{draft}/bookmark"), 401)
    problem(await client.get(BOOKMARKS), 401)
    problem(await client.get(BOOKMARKS, params={"cursor": "x.y"}, headers=reader.headers), 400)
    # Your own draft is visible to you: it can be on your list.
    own = (await create_post(client, reader, status="draft"))["id"]
    await _bookmark(client, reader, own)
    assert [p["id"] for p in await _listed(client, reader)] == [own]


async def test_posts_say_whether_the_signed_in_caller_bookmarked_them(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    reader, other, author = [await make_account() for _ in range(3)]
    marked, plain = [(await create_post(client, author))["id"] for _ in range(2)]
    await _bookmark(client, reader, marked)
    for follower in (reader, other):
        await client.put(f"{API}/users/{author.id}/follow", headers=follower.headers)
    reads = {
        "one": (f"{POSTS}/{marked}", {}),
        "list": (POSTS, {"author_id": author.id}),
        "feed": (f"{API}/users/me/feed", {}),
    }
    for name, (url, params) in reads.items():
        for caller, expected in ((reader.headers, True), (other.headers, False), ({}, False)):
            if name == "feed" and not caller:
                continue
            body = (await client.get(url, params=params, headers=caller)).json()
            flags = {p["id"]: p["bookmarked"] for p in body.get("items", [body])}
            assert flags[marked] is expected, (name, caller)
            assert flags.get(plain, False) is False, name


async def test_if_match_with_the_tag_a_bookmarking_owner_was_shown_still_holds(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    owner = await make_account()
    post_id = (await create_post(client, owner))["id"]
    await _bookmark(client, owner, post_id)
    shown = await client.get(f"{POSTS}/{post_id}", headers=owner.headers)
    assert shown.json()["bookmarked"] is True
    changed = await client.patch(
        f"{POSTS}/{post_id}",
        json={"title": "new"},
        headers={**owner.headers, "If-Match": shown.headers["etag"]},
    )
    assert changed.status_code == 200, changed.text
