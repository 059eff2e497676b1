"""Where the caller may not see an object, its existence stays secret: the same 404 as for an
id that was never used (the issue's case: restoring someone else's soft-deleted post)."""

from httpx import AsyncClient

from tests.support.accounts import AccountFactory
from tests.support.api import POSTS, create_post, problem


async def test_restoring_someone_elses_deleted_post_is_a_404(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    owner, intruder = await make_account(), await make_account()
    post = await create_post(client, owner)
    deleted = await client.delete(f"{POSTS}/{post['id']}", headers=owner.headers)
    assert deleted.status_code == 204

    refused = problem(
        await client.post(f"{POSTS}/{post['id']}/restore", headers=intruder.headers), 404
    )
    missing = problem(
        await client.post(f"{POSTS}/999999999/restore", headers=intruder.headers), 404
    )
    assert refused == missing  # nothing tells a deleted post from a missing one
    restored = await client.post(f"{POSTS}/{post['id']}/restore", headers=owner.headers)
    assert restored.status_code == 200


async def test_restoring_someone_elses_visible_post_is_a_403(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    """A published post is visible to all: refusing it reveals nothing."""
    owner, intruder = await make_account(), await make_account()
    post = await create_post(client, owner)
    problem(await client.post(f"{POSTS}/{post['id']}/restore", headers=intruder.headers), 403)
