"""API1 (BOLA): a matrix over the app's route table.

Every API operation is classified here, either in MATRIX (it takes an object id: another user
must get 403/404 and change nothing, checked with a SQL snapshot of every table) or in EXEMPT
(with the reason). `test_every_route_is_classified` walks the OpenAPI paths of the real app,
so a new endpoint that nobody classified fails the suite until it is added here.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.main import create_app
from service.users.models import Role
from tests.support.accounts import Account, AccountFactory
from tests.support.api import create_comment, create_post
from tests.support.problems import assert_problem
from tests.support.roles import promote
from tests.support.scheduled import scheduled
from tests.support.settings import make_settings
from tests.support.snapshots import Snapshot
from tests.support.webhooks import create_endpoint

API = "/api/v1"


@dataclass(frozen=True)
class Target:
    """What a case needs: the path parameters, and optionally a body."""

    params: dict[str, Any]
    json: Any = None


Builder = Callable[[AsyncClient, Account], Awaitable[Target]]


@dataclass(frozen=True)
class Case:
    name: str
    build: Builder
    owner_status: int
    json: Any = None
    moderator_status: int | None = None
    """What a moderator or an admin gets; None: refused like any other user."""
    moderator_reads: bool = False
    """The moderator's access is a read: nothing changes, nothing is logged."""
    headers: dict[str, str] = field(default_factory=dict)


async def _post(client: AsyncClient, owner: Account, status: str) -> int:
    post_id: int = (await create_post(client, owner, status=status))["id"]
    return post_id


async def published_post(client: AsyncClient, owner: Account) -> Target:
    return Target({"post_id": await _post(client, owner, "published")})


async def draft_post(client: AsyncClient, owner: Account) -> Target:
    return Target({"post_id": await _post(client, owner, "draft")})


async def scheduled_post(client: AsyncClient, owner: Account) -> Target:
    post = await create_post(client, owner, **scheduled())
    return Target({"post_id": post["id"]})


async def edited_post(client: AsyncClient, owner: Account) -> Target:
    """A published post edited once: its revision 1 is the first title."""
    post_id = await _post(client, owner, "published")
    edit = await client.patch(f"{API}/posts/{post_id}", json={"title": "v2"}, headers=owner.headers)
    assert edit.status_code == 200
    return Target({"post_id": post_id, "number": 1})


async def deleted_post(client: AsyncClient, owner: Account) -> Target:
    post_id = await _post(client, owner, "published")
    deleted = await client.delete(f"{API}/posts/{post_id}", headers=owner.headers)
    assert deleted.status_code == 204
    return Target({"post_id": post_id})


async def deleted_draft(client: AsyncClient, owner: Account) -> Target:
    post_id = await _post(client, owner, "draft")
    assert (await client.delete(f"{API}/posts/{post_id}", headers=owner.headers)).status_code == 204
    return Target({"post_id": post_id})


async def comment_on_draft(client: AsyncClient, owner: Account) -> Target:
    post_id = await _post(client, owner, "draft")
    return Target(
        {"comment_id": (await create_comment(client, owner, post_id, body="mine")).json()["id"]}
    )


async def deleted_comment(client: AsyncClient, owner: Account) -> Target:
    post_id = await _post(client, owner, "published")
    comment_id = (await create_comment(client, owner, post_id, body="mine")).json()["id"]
    deleted = await client.delete(f"{API}/comments/{comment_id}", headers=owner.headers)
    assert deleted.status_code == 204
    return Target({"comment_id": comment_id})


async def comment_on_published(client: AsyncClient, owner: Account) -> Target:
    post_id = await _post(client, owner, "published")
    return Target(
        {"comment_id": (await create_comment(client, owner, post_id, body="mine")).json()["id"]}
    )


async def webhook_endpoint(client: AsyncClient, owner: Account) -> Target:
    return Target({"endpoint_id": (await create_endpoint(client, owner))["id"]})


async def webhook_delivery(client: AsyncClient, owner: Account) -> Target:
    endpoint_id = (await create_endpoint(client, owner))["id"]
    ping = await client.post(f"{API}/users/me/webhooks/{endpoint_id}/test", headers=owner.headers)
    assert ping.status_code == 202
    return Target({"endpoint_id": endpoint_id, "delivery_id": ping.json()["id"]})


EDIT = {"title": "taken over", "status": "published"}
HOOKS = f"{API}/users/me/webhooks/{{endpoint_id}}"
REVISIONS = f"{API}/posts/{{post_id}}/revisions"

MATRIX: dict[tuple[str, str], list[Case]] = {
    ("GET", f"{API}/posts/{{post_id}}"): [
        Case("draft", draft_post, 200),
        Case("scheduled", scheduled_post, 200),
    ],
    # Revisions: the owner's, read by moderators too; anyone else is told the post is not there.
    ("GET", REVISIONS): [
        Case("edited", edited_post, 200, moderator_status=200, moderator_reads=True)
    ],
    ("GET", f"{REVISIONS}/{{number}}"): [
        Case("edited", edited_post, 200, moderator_status=200, moderator_reads=True)
    ],
    ("POST", f"{REVISIONS}/{{number}}/restore"): [Case("edited", edited_post, 200)],
    ("PATCH", f"{API}/posts/{{post_id}}"): [
        Case("published", published_post, 200, json=EDIT),
        Case("draft", draft_post, 200, json=EDIT),
        Case("if-match-star", published_post, 200, json=EDIT, headers={"If-Match": "*"}),
    ],
    ("DELETE", f"{API}/posts/{{post_id}}"): [
        Case("published", published_post, 204, moderator_status=204),
        Case("draft", draft_post, 204, moderator_status=204),
    ],
    ("POST", f"{API}/posts/{{post_id}}/restore"): [
        Case("deleted", deleted_post, 200, moderator_status=200),
        Case("deleted-draft", deleted_draft, 200, moderator_status=200),
    ],
    # Acting as yourself on someone else's object: only where it is visible to you.
    ("PUT", f"{API}/posts/{{post_id}}/like"): [Case("draft", draft_post, 200)],
    ("DELETE", f"{API}/posts/{{post_id}}/like"): [Case("draft", draft_post, 200)],
    ("PUT", f"{API}/posts/{{post_id}}/bookmark"): [
        Case("draft", draft_post, 204),
        Case("deleted", deleted_post, 404),
    ],
    ("POST", f"{API}/posts/{{post_id}}/comments"): [
        Case("draft", draft_post, 201, json={"body": "sneaky"})
    ],
    ("GET", f"{API}/posts/{{post_id}}/comments"): [
        Case("draft", draft_post, 200),
        Case("scheduled", scheduled_post, 200),
    ],
    ("GET", f"{API}/comments/{{comment_id}}"): [Case("on-draft", comment_on_draft, 200)],
    ("GET", f"{API}/comments/{{comment_id}}/replies"): [Case("on-draft", comment_on_draft, 200)],
    ("GET", f"{API}/comments/{{comment_id}}/thread"): [Case("on-draft", comment_on_draft, 200)],
    ("DELETE", f"{API}/comments/{{comment_id}}"): [
        Case("on-published", comment_on_published, 204, moderator_status=204),
        Case("on-draft", comment_on_draft, 204, moderator_status=204),
    ],
    ("POST", f"{API}/comments/{{comment_id}}/restore"): [
        Case("deleted", deleted_comment, 200, moderator_status=200),
    ],
    # Webhooks: someone else's endpoint or delivery is a 404, whatever the route.
    ("GET", HOOKS): [Case("endpoint", webhook_endpoint, 200)],
    ("PATCH", HOOKS): [
        Case("endpoint", webhook_endpoint, 200, json={"events": ["post.liked"]}),
        Case("url", webhook_endpoint, 200, json={"url": "https://93.184.215.15/x"}),
    ],
    ("DELETE", HOOKS): [Case("endpoint", webhook_endpoint, 204)],
    ("POST", f"{HOOKS}/test"): [Case("endpoint", webhook_endpoint, 202)],
    ("GET", f"{HOOKS}/deliveries"): [Case("endpoint", webhook_endpoint, 200)],
    ("POST", f"{HOOKS}/deliveries/{{delivery_id}}/retry"): [
        Case("delivery", webhook_delivery, 202)
    ],
}

EXEMPT: dict[tuple[str, str], str] = {
    ("POST", f"{API}/users"): "registration: creates a new account, no object id",
    ("POST", f"{API}/auth/token"): "login: no object id (throttled, see test_rate_limit)",
    ("GET", f"{API}/users"): "public list of public user views (test_property_level)",
    (
        "GET",
        f"{API}/users/{{user_id}}",
    ): "public user view: no email, no hash (test_property_level)",
    ("GET", f"{API}/users/me"): "self-only: acts on the token's user, there is no id to swap",
    ("PATCH", f"{API}/users/me"): "self-only: acts on the token's user, there is no id to swap",
    ("DELETE", f"{API}/users/me"): "self-only: acts on the token's user, there is no id to swap",
    ("GET", f"{API}/users/me/notifications/unread_count"): "self-only: the token's user's rows",
    ("POST", f"{API}/users/me/notifications/read"): (
        "self-only: marks the token's user's rows only; up_to_id is a bound, not a target"
    ),
    ("POST", f"{API}/posts"): "creates as the caller; author_id cannot be sent (mass assignment)",
    ("GET", f"{API}/posts"): "public list; status=draft lists only the viewer's own (test below)",
    ("POST", f"{API}/posts/bulk"): "creates as the caller; items cannot name an author",
    ("PATCH", f"{API}/posts/bulk"): (
        "ids in the body: the UPDATE is limited to author_id = caller; others' ids are reported,"
        " unchanged (tests/posts/test_bulk_changes.py)"
    ),
    ("DELETE", f"{API}/posts/bulk"): (
        "ids in the body: limited to the caller's own posts (test_bulk_delete_soft_deletes_own"
        "_posts_only)"
    ),
    ("GET", f"{API}/posts/search"): "public read of published posts only",
    ("GET", f"{API}/posts/export"): (
        "published posts, and drafts only of the caller (tests/posts/test_export.py)"
    ),
    ("GET", f"{API}/posts/top"): "public read of published posts only",
    ("GET", f"{API}/tags"): "public read (counts of published posts)",
    ("PUT", f"{API}/users/me/profile"): "self-only: acts on the token's user",
    ("GET", f"{API}/users/me/notifications"): "self-only: the token's user's notifications",
    ("GET", f"{API}/users/me/feed"): (
        "self-only: published posts of whom the token's user follows (tests/feed)"
    ),
    ("GET", f"{API}/users/me/bookmarks"): (
        "self-only: the token's user's bookmarks (test_bookmarks_are_only_ever_the_callers_own)"
    ),
    ("DELETE", f"{API}/posts/{{post_id}}/bookmark"): (
        "deletes only the caller's own bookmark row, 204 for any id: reveals nothing"
        " (test_bookmarks_are_only_ever_the_callers_own)"
    ),
    ("POST", f"{API}/users/me/webhooks"): "self-only: creates for the token's user",
    ("GET", f"{API}/users/me/webhooks"): "self-only: lists the token's user's endpoints",
    ("GET", f"{API}/users/{{user_id}}/profile"): "public profile",
    ("GET", f"{API}/users/{{user_id}}/stats"): "public counters",
    ("GET", f"{API}/users/{{user_id}}/followers"): "public list",
    ("GET", f"{API}/users/{{user_id}}/following"): "public list",
    ("PUT", f"{API}/users/{{user_id}}/follow"): (
        "writes the caller's own (follower=caller, followee=id) row; users are public "
        "(test_follow_rows_belong_to_the_caller)"
    ),
    ("DELETE", f"{API}/users/{{user_id}}/follow"): (
        "deletes only the caller's own follow row (test_follow_rows_belong_to_the_caller)"
    ),
    ("PUT", f"{API}/users/{{user_id}}/role"): (
        "admin-only; member, moderator, anonymous, self and admin in tests/moderation"
    ),
    ("GET", f"{API}/moderation/log"): (
        "moderators and admins only; no object id (tests/moderation: every role)"
    ),
    ("GET", f"{API}/feeds/posts.atom"): "public Atom feed of published posts only",
    ("GET", f"{API}/users/{{user_id}}/posts.atom"): "public Atom feed of published posts only",
    ("GET", f"{API}/tags/{{name}}/posts.atom"): "public Atom feed of published posts only",
    ("GET", "/health/live"): "operations: no data",
    ("GET", "/health/ready"): "operations: no data",
}


def _operations() -> set[tuple[str, str]]:
    app = create_app(make_settings("sqlite+aiosqlite://"))
    paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
    return {(method.upper(), path) for path, item in paths.items() for method in item}


def test_every_route_is_classified() -> None:
    operations = _operations()
    missing = sorted(operations - MATRIX.keys() - EXEMPT.keys())
    assert not missing, (
        f"routes without an object-level authorization case: {missing}; add each to the BOLA "
        "matrix (MATRIX in tests/security/test_bola.py) or to EXEMPT with the reason"
    )
    stale = sorted((MATRIX.keys() | EXEMPT.keys()) - operations)
    assert not stale, f"classified routes that no longer exist: {stale}"
    assert not MATRIX.keys() & EXEMPT.keys()
    # Any route with a path parameter that is not exempt must have at least one case.
    assert all(MATRIX[op] for op in MATRIX)


CASES = [
    pytest.param(method, path, case, id=f"{method} {path} [{case.name}]")
    for (method, path), cases in MATRIX.items()
    for case in cases
]


@pytest.mark.parametrize(("method", "path", "case"), CASES)
async def test_another_user_can_neither_see_nor_change(
    client: AsyncClient,
    make_account: AccountFactory,
    snapshot: Callable[[], Awaitable[Snapshot]],
    method: str,
    path: str,
    case: Case,
) -> None:
    owner, intruder = await make_account(), await make_account()
    target = await case.build(client, owner)
    url = path.format(**target.params)
    body = case.json if case.json is not None else target.json

    async def attempt(headers: dict[str, str]) -> Any:
        return await client.request(method, url, json=body, headers={**case.headers, **headers})

    before = await snapshot()
    assert_problem(await attempt(intruder.headers), 403, 404)
    assert_problem(await attempt({}), 401, 404)
    assert await snapshot() == before, "a refused request changed the database"

    # Positive control: the owner may do it, so the refusal above was about ownership.
    allowed = await attempt(owner.headers)
    assert allowed.status_code == case.owner_status, allowed.text


ROLE_CASES = [
    pytest.param(method, path, case, role, id=f"{role} {method} {path} [{case.name}]")
    for (method, path), cases in MATRIX.items()
    for case in cases
    for role in (Role.moderator, Role.admin)
]


@pytest.mark.parametrize(("method", "path", "case", "role"), ROLE_CASES)
async def test_moderators_and_admins_may_moderate_and_nothing_more(
    client: AsyncClient,
    make_account: AccountFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    snapshot: Callable[[], Awaitable[Snapshot]],
    method: str,
    path: str,
    case: Case,
    role: Role,
) -> None:
    """Every route x moderator and admin: delete/restore of anyone's content (logged), reads
    of revisions (nothing changes), and otherwise the same refusal as any other user's."""
    owner = await make_account()
    moderator = await promote(sessionmaker, await make_account(), role)
    target = await case.build(client, owner)
    url = path.format(**target.params)
    body = case.json if case.json is not None else target.json
    before = await snapshot()
    response = await client.request(
        method, url, json=body, headers={**case.headers, **moderator.headers}
    )
    if case.moderator_status is None:
        assert_problem(response, 403, 404)
        assert await snapshot() == before, "a refused request changed the database"
        return
    assert response.status_code == case.moderator_status, response.text
    if case.moderator_reads:
        assert await snapshot() == before, "a moderator's read changed the database"
        return
    logged = (await snapshot())["moderation_log"][len(before["moderation_log"]) :]
    assert len(logged) == 1, "a moderator action was not logged exactly once"


async def test_draft_listing_is_only_ever_the_viewers_own(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    owner, intruder = await make_account(), await make_account()
    await _post(client, owner, "draft")
    mine = await client.get(f"{API}/posts", params={"status": "draft"}, headers=owner.headers)
    assert [p["author"]["id"] for p in mine.json()["items"]] == [owner.id]
    theirs = await client.get(
        f"{API}/posts",
        params={"status": "draft", "author_id": owner.id},
        headers=intruder.headers,
    )
    assert theirs.json()["items"] == []
    assert_problem(await client.get(f"{API}/posts", params={"status": "draft"}), 401)


async def test_follow_rows_belong_to_the_caller(
    client: AsyncClient,
    make_account: AccountFactory,
    snapshot: Callable[[], Awaitable[Snapshot]],
) -> None:
    """Following and unfollowing only ever touch the caller's own row."""
    alice, bob, mallory = await make_account(), await make_account(), await make_account()
    assert (await client.put(f"{API}/users/{bob.id}/follow", headers=alice.headers)).is_success
    before = await snapshot()
    # Mallory cannot undo Alice's follow: her DELETE concerns (mallory, bob), which is absent.
    response = await client.delete(f"{API}/users/{bob.id}/follow", headers=mallory.headers)
    assert response.status_code in (204, 404)
    assert await snapshot() == before
    followers = await client.get(f"{API}/users/{bob.id}/followers")
    assert [f["user"]["id"] for f in followers.json()["items"]] == [alice.id]


async def test_bookmarks_are_only_ever_the_callers_own(
    client: AsyncClient,
    make_account: AccountFactory,
    snapshot: Callable[[], Awaitable[Snapshot]],
) -> None:
    """Nobody reads or removes another's bookmarks: the list and the DELETE are the caller's."""
    alice, mallory, author = await make_account(), await make_account(), await make_account()
    post_id = await _post(client, author, "published")
    bookmark = f"{API}/posts/{post_id}/bookmark"
    assert (await client.put(bookmark, headers=alice.headers)).status_code == 204
    mine = await client.get(f"{API}/users/me/bookmarks", headers=alice.headers)
    assert [p["id"] for p in mine.json()["items"]] == [post_id]
    theirs = await client.get(f"{API}/users/me/bookmarks", headers=mallory.headers)
    assert theirs.json()["items"] == []
    before = await snapshot()
    assert (await client.delete(bookmark, headers=mallory.headers)).status_code == 204
    assert await snapshot() == before
    assert_problem(await client.delete(bookmark), 401)
