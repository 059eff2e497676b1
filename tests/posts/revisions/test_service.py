"""Revisions: what an edit replaces is kept, numbered per post; the owner and moderators read
them (others: 404); the owner restores one as a new edit, under `If-Match` (both backends)."""

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.users.models import Role
from tests.support.accounts import AccountFactory
from tests.support.api import POSTS, create_post, pages, problem
from tests.support.roles import promote


async def test_each_change_of_content_keeps_the_state_it_replaced(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    author = await make_account()
    post = await create_post(client, author, title="v1", body="one", tags=["a"])
    url = f"{POSTS}/{post['id']}"
    edits = [{"title": "v2"}, {"body": "two", "tags": ["b"]}, {"metadata": {"k": "v"}}]
    for edit in edits:
        assert (await client.patch(url, json=edit, headers=author.headers)).status_code == 200
    # Not content, or no change: no revision.
    for edit in ({"status": "draft"}, {"title": "v2"}):
        assert (await client.patch(url, json=edit, headers=author.headers)).status_code == 200
    listed = await pages(client, f"{url}/revisions", headers=author.headers, limit=2)
    summaries = [item for page in listed for item in page]
    assert [(s["number"], s["title"], s["excerpt"]) for s in summaries] == [
        (3, "v2", "two"),
        (2, "v2", "one"),
        (1, "v1", "one"),
    ]
    assert {s["editor"]["id"] for s in summaries} == {author.id}
    first = (await client.get(f"{url}/revisions/1", headers=author.headers)).json()
    assert (first["title"], first["body"], first["tags"], first["metadata"]) == (
        "v1",
        "one",
        ["a"],
        {},
    )
    problem(await client.get(f"{url}/revisions/9", headers=author.headers), 404)


async def test_others_are_told_nothing_and_moderators_read_only(
    client: AsyncClient,
    make_account: AccountFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    author, other = await make_account(), await make_account()
    moderator = await promote(sessionmaker, await make_account(), Role.moderator)
    post = await create_post(client, author, title="v1")
    url = f"{POSTS}/{post['id']}"
    await client.patch(url, json={"title": "v2"}, headers=author.headers)
    for path in ("/revisions", "/revisions/1"):
        problem(await client.get(url + path, headers=other.headers), 404)
        problem(await client.get(url + path), 401)
        assert (await client.get(url + path, headers=moderator.headers)).status_code == 200
    restore = f"{url}/revisions/1/restore"
    problem(await client.post(restore, headers=other.headers), 404)
    problem(await client.post(restore, headers=moderator.headers), 403)


async def test_restore_is_a_new_edit_under_if_match(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    author = await make_account()
    post = await create_post(client, author, title="v1", tags=["a"], metadata={"n": 1})
    url = f"{POSTS}/{post['id']}"
    edited = await client.patch(url, json={"title": "v2", "tags": []}, headers=author.headers)
    restore = f"{url}/revisions/1/restore"
    stale = {"If-Match": f'"{"0" * 32}"'}
    problem(await client.post(restore, headers=author.headers | stale), 412)
    current = {"If-Match": edited.headers["ETag"]}
    restored = await client.post(restore, headers=author.headers | current)
    assert restored.status_code == 200, restored.text
    body = restored.json()
    assert (body["title"], body["tags"], body["metadata"]) == ("v1", ["a"], {"n": 1})
    assert body["version"] > edited.json()["version"]
    after = await client.get(url, headers=author.headers)
    assert restored.headers["ETag"] == after.headers["ETag"]
    second = (await client.get(f"{url}/revisions/2", headers=author.headers)).json()
    assert (second["title"], second["tags"]) == ("v2", [])
