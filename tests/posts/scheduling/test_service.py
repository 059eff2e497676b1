"""Scheduled posts: the rules of `publish_at`, who sees a scheduled post, and the due scan that
publishes it once, at the top of "newest" (both backends, in the test's transaction)."""

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from tests.support.accounts import AccountFactory
from tests.support.api import API, POSTS, create_post, problem
from tests.support.scheduled import (
    ahead,
    make_due,
    publish_due,
    published_events,
    scheduled,
)


@pytest.mark.parametrize(
    "fields",
    [
        {"status": "scheduled"},
        {"status": "scheduled", "publish_at": ahead(-60)},
        {"status": "published", "publish_at": ahead()},
        {"status": "draft", "publish_at": ahead()},
        {"status": "scheduled", "publish_at": "1700000000"},
    ],
    ids=["missing", "past", "with-published", "with-draft", "not-iso"],
)
async def test_a_post_is_scheduled_only_with_a_future_publish_at(
    client: AsyncClient, make_account: AccountFactory, fields: dict[str, str]
) -> None:
    author = await make_account()
    payload = {"title": "t", "body": "b", **fields}
    problem(await client.post(POSTS, json=payload, headers=author.headers), 422)


async def test_a_scheduled_post_is_seen_by_its_author_only(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    author, other = await make_account(), await make_account()
    post = await create_post(client, author, **scheduled(title="soon"))
    assert (post["status"], post["publish_at"] is not None) == ("scheduled", True)
    url = f"{POSTS}/{post['id']}"
    assert (await client.get(url, headers=author.headers)).json() == post
    for headers in (other.headers, {}):
        problem(await client.get(url, headers=headers), 404)
        problem(await client.get(f"{url}/comments", headers=headers), 404)
    comment = {"body": "first!"}
    problem(await client.post(f"{url}/comments", json=comment, headers=other.headers), 404)
    assert (await client.get(POSTS, headers=other.headers)).json()["items"] == []
    mine = await client.get(POSTS, params={"status": "scheduled"}, headers=author.headers)
    assert [p["id"] for p in mine.json()["items"]] == [post["id"]]
    theirs = await client.get(POSTS, params={"status": "scheduled"}, headers=other.headers)
    assert theirs.json()["items"] == []
    problem(await client.get(POSTS, params={"status": "scheduled"}), 401)


async def test_patch_moves_publish_at_or_returns_the_post_to_draft(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    author = await make_account()
    post = await create_post(client, author, **scheduled())
    url = f"{POSTS}/{post['id']}"
    later = ahead(7200)
    moved = await client.patch(url, json={"publish_at": later}, headers=author.headers)
    assert moved.status_code == 200, moved.text
    assert (moved.json()["status"], moved.json()["version"]) == ("scheduled", post["version"] + 1)
    past = await client.patch(url, json={"publish_at": ahead(-1)}, headers=author.headers)
    problem(past, 422)
    draft = await client.patch(url, json={"status": "draft"}, headers=author.headers)
    assert (draft.json()["status"], draft.json()["publish_at"]) == ("draft", None)
    # A draft has no time to move, and is scheduled only with one.
    problem(await client.patch(url, json={"publish_at": later}, headers=author.headers), 422)
    again = await client.patch(url, json={"status": "scheduled"}, headers=author.headers)
    assert problem(again, 422)["errors"][0]["loc"] == ["body", "publish_at"]


async def test_the_due_scan_publishes_once_at_the_top_of_newest(
    client: AsyncClient,
    make_account: AccountFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    connection: AsyncConnection,
) -> None:
    author, fan = await make_account(), await make_account()
    await client.put(f"{API}/users/{author.id}/follow", headers=fan.headers)
    post = await create_post(client, author, **scheduled(title="scheduled first"))
    newer = await create_post(client, author, title="published after it")
    waiting = await create_post(client, author, **scheduled(title="still waiting"))
    assert await publish_due(sessionmaker) == 0
    await make_due(sessionmaker, post["id"])
    assert await publish_due(sessionmaker) == 1
    assert await publish_due(sessionmaker) == 0
    shown = (await client.get(f"{POSTS}/{post['id']}", headers=fan.headers)).json()
    assert (shown["status"], shown["publish_at"]) == ("published", None)
    assert shown["version"] == post["version"] + 1
    assert shown["created_at"] > newer["created_at"]
    newest = (await client.get(POSTS)).json()["items"]
    assert [p["id"] for p in newest] == [post["id"], newer["id"]]
    assert await published_events(connection, post["id"]) == 1
    assert await published_events(connection, waiting["id"]) == 0
