from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.accounts import AccountFactory
from tests.support.api import API, POSTS, create_post

ORPHANS = {
    "posts": "SELECT count(*) FROM posts p WHERE NOT EXISTS "
    "(SELECT 1 FROM users u WHERE u.id = p.author_id)",
    "comments": "SELECT count(*) FROM comments c WHERE NOT EXISTS "
    "(SELECT 1 FROM posts p WHERE p.id = c.post_id) OR NOT EXISTS "
    "(SELECT 1 FROM users u WHERE u.id = c.author_id) OR (c.parent_id IS NOT NULL AND NOT EXISTS "
    "(SELECT 1 FROM comments r WHERE r.id = c.parent_id))",
    "likes": "SELECT count(*) FROM post_likes l WHERE NOT EXISTS "
    "(SELECT 1 FROM posts p WHERE p.id = l.post_id) OR NOT EXISTS "
    "(SELECT 1 FROM users u WHERE u.id = l.user_id)",
    "follows": "SELECT count(*) FROM follows f WHERE NOT EXISTS "
    "(SELECT 1 FROM users u WHERE u.id = f.follower_id) OR NOT EXISTS "
    "(SELECT 1 FROM users u WHERE u.id = f.followee_id)",
    "profiles": "SELECT count(*) FROM profiles pr WHERE NOT EXISTS "
    "(SELECT 1 FROM users u WHERE u.id = pr.user_id)",
    "post_tags": "SELECT count(*) FROM post_tags pt WHERE NOT EXISTS "
    "(SELECT 1 FROM posts p WHERE p.id = pt.post_id)",
}


async def test_deleting_a_user_cascades_and_leaves_no_orphans(
    client: AsyncClient, make_account: AccountFactory, connection: AsyncConnection
) -> None:
    doomed, other = await make_account(), await make_account()
    own = await create_post(client, doomed, tags=["x"])
    theirs = await create_post(client, other)
    # Comments both ways, a reply by `other` under doomed's comment, likes, follows, profile.
    mine = await client.post(
        f"{POSTS}/{theirs['id']}/comments", json={"body": "a"}, headers=doomed.headers
    )
    await client.post(
        f"{POSTS}/{theirs['id']}/comments",
        json={"body": "b", "parent_id": mine.json()["id"]},
        headers=other.headers,
    )
    await client.post(f"{POSTS}/{own['id']}/comments", json={"body": "c"}, headers=other.headers)
    await client.put(f"{POSTS}/{theirs['id']}/like", headers=doomed.headers)
    await client.put(f"{POSTS}/{own['id']}/like", headers=other.headers)
    await client.put(f"{API}/users/{other.id}/follow", headers=doomed.headers)
    await client.put(f"{API}/users/{doomed.id}/follow", headers=other.headers)
    await client.put(f"{API}/users/me/profile", json={"bio": "bye"}, headers=doomed.headers)

    response = await client.delete(f"{API}/users/me", headers=doomed.headers)
    assert response.status_code == 204, response.text

    for name, sql in ORPHANS.items():
        assert (await connection.execute(text(sql))).scalar_one() == 0, name
    uid = doomed.id
    owned = {
        "posts": f"SELECT count(*) FROM posts WHERE author_id = {uid}",
        "comments": f"SELECT count(*) FROM comments WHERE author_id = {uid}",
        "likes": f"SELECT count(*) FROM post_likes WHERE user_id = {uid}",
        "follows": f"SELECT count(*) FROM follows WHERE {uid} IN (follower_id, followee_id)",
        "profile": f"SELECT count(*) FROM profiles WHERE user_id = {uid}",
    }
    for name, sql in owned.items():
        assert (await connection.execute(text(sql))).scalar_one() == 0, name
    # The other user's post survives, its like counter no longer counts the deleted user.
    survivor = await client.get(f"{POSTS}/{theirs['id']}")
    assert survivor.json()["like_count"] == 0
