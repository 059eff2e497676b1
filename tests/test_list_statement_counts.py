"""The statement count of every list endpoint: exact, and the same for 1 row as for 8.

Reads run on the read session (no transaction, no SAVEPOINT), so these are the statements a
request really sends; an anonymous request never touches the write session. The two routes that
take a token (`CurrentUser`) read its user in the request's transaction: those counts say so.
docs/domain.md lists the same numbers.
"""

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.notifications.models import Notification
from service.users.models import Role
from tests.support.accounts import AccountFactory
from tests.support.api import API, POSTS, create_post
from tests.support.roles import promote
from tests.support.statements import StatementCounter

EXPECTED = {  # endpoint -> statements of the request itself
    "GET /users": 1,
    "GET /posts": 1,  # posts JOIN authors, tags aggregated in the same statement
    "GET /posts?sort=-like_count": 1,
    "GET /posts?tag=": 1,
    "GET /posts?q=": 1,
    "GET /posts?meta=": 1,
    "GET /posts?commented_by=": 1,
    "GET /posts/search": 1,
    "GET /posts/top": 1,
    "GET /tags": 1,
    "GET /posts/{id}/comments": 2,  # post check; comments JOIN authors + reply_count column
    "GET /comments/{id}/replies": 3,  # + the parent comment
    "GET /users/{id}/followers": 2,  # user check; follows JOIN users
    "GET /users/{id}/following": 2,
    "GET /users/{id}/stats": 1,
    # A token's user is read in the request's own transaction (CurrentUser): its SAVEPOINT and
    # RELEASE here (the test's transaction) are BEGIN and COMMIT in production; + the user.
    "GET /moderation/log": 2 + 2,  # moderator token; the log page
    "GET /users/me/notifications": 2 + 2,  # token; the page (notifications JOIN the actor)
    # SignedInUser: the token's user in one statement outside any transaction; the page.
    "GET /users/me/feed": 1 + 1,  # posts JOIN authors + tags + bookmarked, follows inside
    "GET /users/me/bookmarks": 1 + 1,  # bookmarks JOIN posts JOIN authors + tags
    "GET /posts (signed in)": 1 + 1,  # + `bookmarked` in the same statement
    "GET /posts/{id}/revisions": 1 + 2,  # + the post (owner or moderator?); revisions JOIN editors
    "GET /posts/{id}/revisions/{number}": 1 + 2,  # + the post; the revision JOIN its editor
}


async def test_statement_count_of_every_list_endpoint(
    client: AsyncClient,
    make_account: AccountFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    statements: StatementCounter,
) -> None:
    authors = [await make_account() for _ in range(8)]
    posts = [
        await create_post(
            client, a, title="common", body="common", tags=["t1", "t2"], metadata={"k": "v"}
        )
        for a in authors
    ]
    first = posts[0]["id"]
    star = authors[0]
    comments = []
    for a in authors:
        await client.put(f"{POSTS}/{posts[1]['id']}/like", headers=a.headers)
        for post in posts:
            await client.put(f"{POSTS}/{post['id']}/bookmark", headers=a.headers)
        if a is not star:
            await client.put(f"{API}/users/{star.id}/follow", headers=a.headers)
            await client.put(f"{API}/users/{a.id}/follow", headers=star.headers)
        created = await client.post(
            f"{POSTS}/{first}/comments", json={"body": "x"}, headers=a.headers
        )
        comments.append(created.json()["id"])
    for a in authors:
        await client.post(
            f"{POSTS}/{first}/comments",
            json={"body": "x", "parent_id": comments[0]},
            headers=a.headers,
        )
        await client.post(
            f"{POSTS}/{posts[1]['id']}/comments", json={"body": "x"}, headers=a.headers
        )
    for title in ("one", "two", "three"):
        edit = await client.patch(f"{POSTS}/{first}", json={"title": title}, headers=star.headers)
        assert edit.status_code == 200, edit.text
    moderator = await promote(sessionmaker, await make_account(), Role.moderator)
    for comment in comments[-2:]:
        deleted = await client.delete(f"{API}/comments/{comment}", headers=moderator.headers)
        assert deleted.status_code == 204, deleted.text
    async with sessionmaker() as session, session.begin():
        session.add_all(
            Notification(user_id=star.id, post_id=p["id"], actor_id=a.id)
            for p, a in zip(posts[1:], authors[1:], strict=True)
        )
    tokens = {
        "GET /moderation/log": moderator.headers,
        "GET /users/me/notifications": star.headers,
        "GET /users/me/feed": star.headers,
        "GET /users/me/bookmarks": star.headers,
        "GET /posts (signed in)": star.headers,
        "GET /posts/{id}/revisions": star.headers,
        "GET /posts/{id}/revisions/{number}": star.headers,
    }
    urls = {
        "GET /users": f"{API}/users",
        "GET /posts": POSTS,
        "GET /posts?sort=-like_count": f"{POSTS}?sort=-like_count",
        "GET /posts?tag=": f"{POSTS}?tag=t1",
        "GET /posts?q=": f"{POSTS}?q=common",
        "GET /posts?meta=": f"{POSTS}?meta=k:v",
        "GET /posts?commented_by=": f"{POSTS}?commented_by={authors[1].id}",
        "GET /posts/search": f"{POSTS}/search?q=common",
        "GET /posts/top": f"{POSTS}/top?per_author=2",
        "GET /tags": f"{API}/tags",
        "GET /posts/{id}/comments": f"{POSTS}/{first}/comments",
        "GET /comments/{id}/replies": f"{API}/comments/{comments[0]}/replies",
        "GET /users/{id}/followers": f"{API}/users/{star.id}/followers",
        "GET /users/{id}/following": f"{API}/users/{star.id}/following",
        "GET /users/{id}/stats": f"{API}/users/{star.id}/stats",
        "GET /moderation/log": f"{API}/moderation/log",
        "GET /users/me/notifications": f"{API}/users/me/notifications",
        "GET /users/me/feed": f"{API}/users/me/feed",
        "GET /users/me/bookmarks": f"{API}/users/me/bookmarks",
        "GET /posts (signed in)": POSTS,
        "GET /posts/{id}/revisions": f"{POSTS}/{first}/revisions",
        "GET /posts/{id}/revisions/{number}": f"{POSTS}/{first}/revisions/2",
    }
    measured = {}
    for name, url in urls.items():
        counts = set()
        for limit in (1, 7):
            statements.count = 0
            separator = "&" if "?" in url else "?"
            response = await client.get(f"{url}{separator}limit={limit}", headers=tokens.get(name))
            assert response.status_code == 200, (name, response.text)
            items = response.json()
            if isinstance(items, dict) and "items" in items:
                items = items["items"]
            if isinstance(items, list):
                assert 1 <= len(items) <= limit, name
            counts.add(statements.count)
        measured[name] = counts
    assert measured == {name: {count} for name, count in EXPECTED.items()}
