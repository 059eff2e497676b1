import uuid

from httpx import AsyncClient

from service.kit.ids import uuid7
from tests.support.accounts import AccountFactory
from tests.support.api import API, POSTS, create_comment, create_post, pages, problem
from tests.support.statements import StatementCounter


def test_uuid7_is_time_ordered_and_version_7() -> None:
    ids = [uuid7() for _ in range(10_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids[:10])


async def test_threads_reply_counts_and_keyset_pages(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    alice, bob = await make_account(), await make_account()
    post = await create_post(client, alice)
    top = [(await create_comment(client, bob, post["id"], body=f"c{i}")).json() for i in range(5)]
    assert top[0]["author"]["id"] == bob.id
    for i in range(3):
        await create_comment(client, alice, post["id"], body=f"r{i}", parent=top[1]["id"])
    nested = (
        await create_comment(client, bob, post["id"], body="deep", parent=top[0]["id"])
    ).json()
    await create_comment(client, bob, post["id"], body="deeper", parent=nested["id"])

    got = await pages(client, f"{POSTS}/{post['id']}/comments", limit=2)
    assert [len(p) for p in got] == [2, 2, 1]
    flat = [c for page in got for c in page]
    assert [c["id"] for c in flat] == [c["id"] for c in top]  # uuid7 order = creation order
    assert [c["reply_count"] for c in flat] == [1, 3, 0, 0, 0]
    replies = (await client.get(f"{API}/comments/{top[1]['id']}/replies")).json()["items"]
    assert [r["body"] for r in replies] == ["r0", "r1", "r2"]
    assert all(r["parent_id"] == top[1]["id"] for r in replies)
    deep = (await client.get(f"{API}/comments/{top[0]['id']}/replies")).json()["items"]
    assert deep[0]["reply_count"] == 1


async def test_deleted_comment_with_replies_shows_as_deleted(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    alice, bob, carol = await make_account(), await make_account(), await make_account()
    post = await create_post(client, alice)
    parent = (await create_comment(client, bob, post["id"], body="parent")).json()
    lonely = (await create_comment(client, bob, post["id"], body="lonely")).json()
    reply = (
        await create_comment(client, carol, post["id"], body="reply", parent=parent["id"])
    ).json()

    # The author deletes one, the post's owner deletes the other.
    deleted = await client.delete(f"{API}/comments/{parent['id']}", headers=bob.headers)
    assert deleted.status_code == 204, deleted.text
    assert (
        await client.delete(f"{API}/comments/{lonely['id']}", headers=alice.headers)
    ).status_code == 204

    items = (await client.get(f"{POSTS}/{post['id']}/comments")).json()["items"]
    assert len(items) == 1
    shown = items[0]
    assert shown["id"] == parent["id"]
    assert shown["deleted"] is True
    assert shown["body"] is None
    assert shown["author"] is None
    assert shown["reply_count"] == 1
    replies = (await client.get(f"{API}/comments/{parent['id']}/replies")).json()["items"]
    assert [r["id"] for r in replies] == [reply["id"]]
    assert replies[0]["body"] == "reply"
    # A deleted comment without replies is gone, its (empty) replies with it.
    problem(await client.get(f"{API}/comments/{lonely['id']}/replies"), 404)
    problem(await client.get(f"{API}/comments/{lonely['id']}/thread"), 404)
    problem(await client.delete(f"{API}/comments/{parent['id']}", headers=bob.headers), 404)
    # A new reply to a deleted comment is refused (the thread is closed).
    late = await client.post(
        f"{POSTS}/{post['id']}/comments",
        json={"body": "late", "parent_id": parent["id"]},
        headers=carol.headers,
    )
    problem(late, 400)


async def test_comment_errors(client: AsyncClient, make_account: AccountFactory) -> None:
    alice, bob, carol = await make_account(), await make_account(), await make_account()
    post = await create_post(client, alice)
    other = await create_post(client, alice)
    draft = await create_post(client, alice, status="draft")
    comment = (await create_comment(client, bob, post["id"])).json()
    url = f"{POSTS}/{post['id']}/comments"
    # Parent on another post, unknown parent, empty body, unknown field, no token.
    for payload in (
        {"body": "x", "parent_id": comment["id"]},
        {"body": "x", "parent_id": str(uuid7())},
    ):
        problem(
            await client.post(f"{POSTS}/{other['id']}/comments", json=payload, headers=bob.headers),
            400,
        )
    problem(await client.post(url, json={"body": ""}, headers=bob.headers), 422)
    problem(await client.post(url, json={"body": "x", "author_id": 1}, headers=bob.headers), 422)
    problem(await client.post(url, json={"body": "x"}), 401)
    problem(
        await client.post(f"{POSTS}/999999/comments", json={"body": "x"}, headers=bob.headers), 404
    )
    problem(
        await client.post(
            f"{POSTS}/{draft['id']}/comments", json={"body": "x"}, headers=bob.headers
        ),
        404,
    )
    problem(await client.get(f"{POSTS}/999999/comments"), 404)
    problem(await client.get(f"{API}/comments/{uuid7()}/replies"), 404)
    problem(await client.get(f"{API}/comments/not-a-uuid/replies"), 422)
    # Neither the author nor the post's owner.
    problem(await client.delete(f"{API}/comments/{comment['id']}", headers=carol.headers), 403)
    problem(await client.delete(f"{API}/comments/{uuid7()}", headers=bob.headers), 404)
    problem(await client.get(url, params={"cursor": "forged.cursor"}), 400)


async def test_comments_of_a_deleted_post_are_unreachable(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    alice, bob = await make_account(), await make_account()
    post = await create_post(client, alice)
    comment = (await create_comment(client, bob, post["id"])).json()
    await client.delete(f"{POSTS}/{post['id']}", headers=alice.headers)
    problem(await client.get(f"{POSTS}/{post['id']}/comments"), 404)
    problem(await client.get(f"{API}/comments/{comment['id']}/replies"), 404)
    problem(await client.delete(f"{API}/comments/{comment['id']}", headers=bob.headers), 404)
    problem(
        await client.post(
            f"{POSTS}/{post['id']}/comments", json={"body": "x"}, headers=bob.headers
        ),
        404,
    )


async def test_comment_lists_run_a_constant_number_of_statements(
    client: AsyncClient, make_account: AccountFactory, statements: StatementCounter
) -> None:
    alice = await make_account()
    post = await create_post(client, alice)
    commenters = [await make_account() for _ in range(6)]
    top = [(await create_comment(client, c, post["id"])).json() for c in commenters]
    for c in commenters:
        await create_comment(client, c, post["id"], parent=top[0]["id"])
        await create_comment(client, c, post["id"], parent=top[1]["id"])
    for url in (f"{POSTS}/{post['id']}/comments", f"{API}/comments/{top[0]['id']}/replies"):
        counts = []
        for limit in (1, 6):
            statements.count = 0
            response = await client.get(url, params={"limit": limit})
            assert len(response.json()["items"]) == limit
            counts.append(statements.count)
        assert counts[0] == counts[1], (url, counts)
