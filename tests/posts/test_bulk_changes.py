"""PATCH /posts/bulk (publish/unpublish) and DELETE /posts/bulk: own posts only, per-item
report, optimistic lock in the UPDATE itself."""

from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.jobs.outbox import EVENTS
from service.posts.bulk import _apply
from service.posts.schemas import BulkDeleteItem, BulkError
from tests.support.accounts import AccountFactory
from tests.support.api import POSTS, create_post
from tests.support.problems import assert_problem
from tests.support.statements import StatementCounter

BULK = f"{POSTS}/bulk"


async def test_publish_many_drafts_reporting_the_items_that_cannot_be(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    author, other = await make_account(), await make_account()
    drafts = [(await create_post(client, author, status="draft"))["id"] for _ in range(3)]
    theirs = (await create_post(client, other, status="draft"))["id"]
    items: list[Any] = [{"id": i, "status": "published"} for i in drafts]
    items += [
        {"id": theirs, "status": "published"},
        {"id": drafts[0], "status": "published"},
        {"id": 1, "status": "archived"},
        {"id": drafts[1], "status": "published", "author_id": other.id},
    ]
    response = await client.patch(BULK, json={"items": items}, headers=author.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["changed"] == sorted(drafts)
    assert [(e["index"], e["detail"]) for e in body["errors"]][:2] == [
        (3, "no such post of yours"),
        (4, "id: listed twice"),
    ]
    assert [e["index"] for e in body["errors"]] == [3, 4, 5, 6]
    for post_id in drafts:
        post = (await client.get(f"{POSTS}/{post_id}")).json()
        assert (post["status"], post["version"]) == ("published", 2)
    assert (await client.get(f"{POSTS}/{theirs}", headers=other.headers)).json()[
        "status"
    ] == "draft"

    again = await client.patch(
        BULK,
        json={"items": [{"id": drafts[0], "status": "draft", "version": 1}]},
        headers=author.headers,
    )
    assert again.json() == {
        "changed": [],
        "errors": [{"index": 0, "detail": "version 2 is current"}],
    }


@pytest.mark.parametrize(("before", "after"), [("published", "draft"), ("draft", "published")])
async def test_the_statement_count_does_not_grow_with_the_items(
    client: AsyncClient,
    make_account: AccountFactory,
    statements: StatementCounter,
    connection: AsyncConnection,
    before: str,
    after: str,
) -> None:
    """Unpublishing, and publishing, whose events (one per post) go to the outbox in one
    INSERT on both backends (service/jobs/outbox.py)."""
    author = await make_account()
    counts, published = [], []
    for size in (2, 20):
        ids = [(await create_post(client, author, status=before))["id"] for _ in range(size)]
        published += ids if before == "published" else []
        statements.count = 0
        items = [{"id": i, "status": after} for i in ids]
        response = await client.patch(BULK, json={"items": items}, headers=author.headers)
        assert response.json()["changed"] == sorted(ids)
        counts.append(statements.count)
        published += ids if after == "published" else []
    assert counts[0] == counts[1]
    events = await connection.execute(
        select(EVENTS.c.payload).where(EVENTS.c.topic == "post.published")
    )
    assert sorted(payload["post_id"] for (payload,) in events) == sorted(published)


async def test_bulk_delete_soft_deletes_own_posts_only(
    client: AsyncClient, make_account: AccountFactory, connection: AsyncConnection
) -> None:
    author, intruder = await make_account(), await make_account()
    ids = [(await create_post(client, author))["id"] for _ in range(3)]
    refused = await client.request(
        "DELETE", BULK, json={"items": [{"id": i} for i in ids]}, headers=intruder.headers
    )
    assert refused.json()["changed"] == []
    assert len(refused.json()["errors"]) == 3
    live = text("SELECT count(*) FROM posts WHERE author_id = :a AND deleted_at IS NULL")
    assert (await connection.execute(live, {"a": author.id})).scalar_one() == 3

    items = [{"id": ids[0], "version": 1}, {"id": ids[1]}]
    deleted = await client.request("DELETE", BULK, json={"items": items}, headers=author.headers)
    assert deleted.json() == {"changed": sorted(ids[:2]), "errors": []}
    assert_problem(await client.get(f"{POSTS}/{ids[0]}"), 404)
    assert (await client.get(f"{POSTS}/{ids[2]}")).status_code == 200
    twice = await client.request("DELETE", BULK, json={"items": items}, headers=author.headers)
    assert [e["detail"] for e in twice.json()["errors"]] == ["no such post of yours"] * 2


async def test_a_row_changed_after_the_read_is_reported_not_overwritten(
    client: AsyncClient,
    make_account: AccountFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The UPDATE matches (id, version): a concurrent edit between the SELECT and the UPDATE
    (here: the edit, then the UPDATE with the version read before it) changes nothing."""
    author = await make_account()
    post = await create_post(client, author)
    edited = await client.patch(
        f"{POSTS}/{post['id']}", json={"title": "new"}, headers=author.headers
    )
    assert edited.json()["version"] == 2
    errors: list[BulkError] = []
    item = BulkDeleteItem(id=post["id"])
    async with sessionmaker() as session, session.begin():
        changed = await _apply(session, author.id, [(0, item, 1)], {"title": "stale"}, errors)
    assert changed == []
    assert errors == [BulkError(index=0, detail="changed by another request; retry")]
    assert (await client.get(f"{POSTS}/{post['id']}")).json()["title"] == "new"


async def test_bulk_changes_need_a_token_and_at_most_1000_items(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    assert_problem(await client.patch(BULK, json={"items": [{"id": 1, "status": "draft"}]}), 401)
    author = await make_account()
    too_many = {"items": [{"id": i + 1, "status": "draft"} for i in range(1001)]}
    assert_problem(await client.patch(BULK, json=too_many, headers=author.headers), 422)
    assert_problem(
        await client.request("DELETE", BULK, json={"items": []}, headers=author.headers), 422
    )
