"""`GET /comments/{id}`: one comment, where a new comment's `Location` points; the 404 rules of
pages and threads (a deleted comment holding replies shows as deleted, anything else hidden is
404); comment cursors are bound to their thread."""

from httpx import AsyncClient

from service.kit.ids import uuid7
from tests.support.accounts import AccountFactory
from tests.support.api import API, POSTS, create_comment, create_post, problem

COMMENTS = f"{API}/comments"


async def test_location_of_a_new_comment_is_its_own_url(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    alice = await make_account()
    post = await create_post(client, alice)
    created = await create_comment(client, alice, post["id"])
    assert created.headers["location"] == f"{COMMENTS}/{created.json()['id']}"
    fetched = await client.get(created.headers["location"])
    assert fetched.status_code == 200, fetched.text
    assert fetched.json() == created.json()
    assert fetched.json()["reply_count"] == 0
    await create_comment(client, alice, post["id"], parent=created.json()["id"])
    assert (await client.get(created.headers["location"])).json()["reply_count"] == 1


async def test_deleted_and_hidden_comments_follow_the_404_rules(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    alice, bob = await make_account(), await make_account()
    post = await create_post(client, alice)
    lone = (await create_comment(client, bob, post["id"])).json()
    holder = (await create_comment(client, bob, post["id"])).json()
    await create_comment(client, alice, post["id"], parent=holder["id"])
    for comment in (lone, holder):
        deleted = await client.delete(f"{COMMENTS}/{comment['id']}", headers=bob.headers)
        assert deleted.status_code == 204, deleted.text
    problem(await client.get(f"{COMMENTS}/{lone['id']}"), 404)
    shown = (await client.get(f"{COMMENTS}/{holder['id']}")).json()
    assert shown["deleted"] is True
    assert shown["body"] is None
    assert shown["author"] is None
    assert shown["reply_count"] == 1

    draft = await create_post(client, alice, status="draft")
    on_draft = (await create_comment(client, alice, draft["id"])).json()
    assert (await client.get(f"{COMMENTS}/{on_draft['id']}", headers=alice.headers)).is_success
    problem(await client.get(f"{COMMENTS}/{on_draft['id']}", headers=bob.headers), 404)
    problem(await client.get(f"{COMMENTS}/{on_draft['id']}"), 404)

    gone = await create_post(client, alice)
    on_gone = (await create_comment(client, bob, gone["id"])).json()
    assert (await client.delete(f"{POSTS}/{gone['id']}", headers=alice.headers)).is_success
    problem(await client.get(f"{COMMENTS}/{on_gone['id']}"), 404)

    problem(await client.get(f"{COMMENTS}/{uuid7()}"), 404)
    problem(await client.get(f"{COMMENTS}/not-a-uuid"), 422)


async def test_a_comment_cursor_is_bound_to_its_thread(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    alice = await make_account()
    first, second = await create_post(client, alice), await create_post(client, alice)
    for _ in range(2):
        await create_comment(client, alice, first["id"])
        await create_comment(client, alice, second["id"])
    url = f"{POSTS}/{first['id']}/comments"
    cursor = (await client.get(url, params={"limit": 1})).json()["next_cursor"]
    assert (await client.get(url, params={"cursor": cursor})).status_code == 200
    other = f"{POSTS}/{second['id']}/comments"
    problem(await client.get(other, params={"cursor": cursor}), 400)
