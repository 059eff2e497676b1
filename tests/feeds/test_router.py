"""Atom feeds (both backends): valid for feedparser (`bozo == 0`), the latest 50 published
posts newest first, per author and per tag; ETag and Last-Modified with their 304s."""

import feedparser
from httpx import AsyncClient

from tests.support.accounts import AccountFactory
from tests.support.api import API, create_post
from tests.support.problems import assert_problem

ATOM = "application/atom+xml"


def parsed(body: bytes) -> feedparser.FeedParserDict:
    feed = feedparser.parse(body)
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.version == "atom10"
    return feed


async def test_the_site_feed_lists_published_posts_newest_first(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    author = await make_account()
    ids = [(await create_post(client, author, title=f"p{i}\x01"))["id"] for i in range(3)]
    await create_post(client, author, status="draft", title="secret draft")
    response = await client.get(f"{API}/feeds/posts.atom")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(ATOM)
    feed = parsed(response.content)
    links = [entry.link for entry in feed.entries]
    mine = [link for link in links if link.rsplit("/", 1)[-1] in {str(i) for i in ids}]
    assert mine == [f"http://test{API}/posts/{i}" for i in reversed(ids)]
    assert "secret draft" not in response.text
    assert len(feed.entries) <= 50


async def test_user_and_tag_feeds(client: AsyncClient, make_account: AccountFactory) -> None:
    author, other = await make_account(), await make_account()
    tagged = await create_post(client, author, title="tagged", tags=["atomfeed"])
    await create_post(client, other, title="not mine", tags=["atomfeed"])
    await create_post(client, author, title="untagged")
    by_user = parsed((await client.get(f"{API}/users/{author.id}/posts.atom")).content)
    assert sorted(e.title for e in by_user.entries) == ["tagged", "untagged"]
    by_tag = parsed((await client.get(f"{API}/tags/AtomFeed/posts.atom")).content)
    assert sorted(e.title for e in by_tag.entries) == ["not mine", "tagged"]
    assert by_tag.entries[-1].link.endswith(f"/posts/{tagged['id']}")
    empty = parsed((await client.get(f"{API}/tags/nothing-here/posts.atom")).content)
    assert empty.entries == []
    odd = await client.get(f"{API}/tags/%C2%87%1E%C2%BA%1C/posts.atom")  # found by schemathesis
    assert parsed(odd.content).entries == []
    assert_problem(await client.get(f"{API}/users/999999999/posts.atom"), 404)


async def test_conditional_gets_answer_304(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    author = await make_account()
    await create_post(client, author, title="cached")
    url = f"{API}/users/{author.id}/posts.atom"
    first = await client.get(url)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert (await client.get(url, headers={"If-None-Match": etag})).status_code == 304
    since = await client.get(url, headers={"If-Modified-Since": modified})
    assert (since.status_code, since.content) == (304, b"")
    stale = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert (await client.get(url, headers={"If-Modified-Since": stale})).status_code == 200
    bad = await client.get(url, headers={"If-Modified-Since": "not a date"})
    assert bad.status_code == 200
    await create_post(client, author, title="newer")
    changed = await client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
