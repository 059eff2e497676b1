from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.db.errors import violated_unique
from service.users import service
from service.users.models import Profile, User
from tests.support.accounts import PASSWORD, AccountFactory
from tests.support.problems import assert_problem

USERS = "/api/v1/users"


async def _register(client: AsyncClient, name: str, **extra: Any) -> Any:
    payload = {"username": name, "email": f"{name}@example.com", "password": PASSWORD, **extra}
    return await client.post(USERS, json=payload)


async def _login(client: AsyncClient, username: str, password: str = PASSWORD) -> Any:
    return await client.post(
        "/api/v1/auth/token", data={"username": username, "password": password}
    )


async def test_register_login_and_read_me(client: AsyncClient) -> None:
    created = await _register(client, "alice", display_name="Alice")
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["username"] == "alice"
    assert user["email"] == "alice@example.com"
    assert "password" not in created.text
    assert "hash" not in created.text
    assert created.headers["location"] == f"{USERS}/{user['id']}"

    token = await _login(client, "alice")
    assert token.status_code == 200
    body = token.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] > 0

    me = await client.get(
        f"{USERS}/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json()["email"] == "alice@example.com"


async def test_duplicate_username_or_email_is_409(client: AsyncClient) -> None:
    assert (await _register(client, "bob")).status_code == 201
    assert_problem(await _register(client, "bob"), 409)
    again = await client.post(
        USERS, json={"username": "bob2", "email": "BOB@example.com", "password": PASSWORD}
    )
    assert assert_problem(again, 409)["detail"] == "That username or email is already taken."


async def test_a_taken_email_is_409_on_update_too(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    first, second = await make_account(), await make_account()
    response = await client.patch(
        f"{USERS}/me", json={"email": first.user.email.upper()}, headers=second.headers
    )
    assert assert_problem(response, 409)["detail"] == "That email is already taken."


async def test_only_a_taken_username_or_email_is_a_conflict_of_registration(
    sessionmaker: async_sessionmaker[AsyncSession], make_account: AccountFactory
) -> None:
    """Another unique violation in the same flush is not "already taken": it goes on, as the
    IntegrityError, to the one error handler."""
    account = await make_account()
    async with sessionmaker() as session, session.begin():
        session.add(Profile(user_id=account.id))
    async with sessionmaker() as session:
        session.add(Profile(user_id=account.id))
        user = User(username="fresh", email="fresh@example.com", password_hash="x")
        with pytest.raises(IntegrityError) as raised:
            await service.register(session, user)
    assert violated_unique(raised.value) in {"pk_profiles", "profiles.user_id"}


async def test_validation_error_never_echoes_the_password(client: AsyncClient) -> None:
    marker = "Sekr3t-MARKER"
    response = await client.post(
        USERS, json={"username": "No Spaces!", "email": "x@example.com", "password": marker[:5]}
    )
    body = assert_problem(response, 422)
    assert marker[:5] not in response.text
    assert {tuple(e["loc"]) for e in body["errors"]} == {("body", "username"), ("body", "password")}
    assert all(set(e) == {"loc", "msg"} for e in body["errors"])


async def test_unknown_fields_are_rejected(client: AsyncClient) -> None:
    response = await _register(client, "carol", id=999, token_version=5)
    assert_problem(response, 422)


async def test_login_errors_do_not_reveal_whether_the_user_exists(client: AsyncClient) -> None:
    assert (await _register(client, "dave")).status_code == 201
    wrong_password = assert_problem(await _login(client, "dave", "not the password"), 401)
    no_such_user = assert_problem(await _login(client, "nobody_here"), 401)
    assert wrong_password == no_such_user


async def test_me_requires_a_valid_token(client: AsyncClient) -> None:
    assert_problem(await client.get(f"{USERS}/me"), 401)
    forged = {"Authorization": "Bearer not.a.token"}
    response = await client.get(f"{USERS}/me", headers=forged)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


async def test_public_view_hides_email_and_hash(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    account = await make_account()
    response = await client.get(f"{USERS}/{account.id}")
    assert response.status_code == 200
    assert set(response.json()) == {"id", "username", "display_name", "created_at"}
    assert_problem(await client.get(f"{USERS}/987654321"), 404)
    assert_problem(await client.get(f"{USERS}/{2**64}"), 422)


async def test_list_users_is_a_keyset_page(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    created = [(await make_account()).id for _ in range(5)]
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(USERS, params=params)).json()
        seen += [u["id"] for u in page["items"]]
        assert all("email" not in u for u in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen)
    assert set(created) <= set(seen)


async def test_update_me_and_password_change_revokes_old_tokens(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    account = await make_account()
    renamed = await client.patch(
        f"{USERS}/me", json={"display_name": "New Name"}, headers=account.headers
    )
    assert renamed.status_code == 200
    assert renamed.json()["display_name"] == "New Name"

    changed = await client.patch(
        f"{USERS}/me", json={"password": "another password"}, headers=account.headers
    )
    assert changed.status_code == 200
    assert_problem(await client.get(f"{USERS}/me", headers=account.headers), 401)
    fresh = await _login(client, account.user.username, "another password")
    assert fresh.status_code == 200


async def test_delete_me_cascades_to_posts(
    client: AsyncClient, make_account: AccountFactory, connection: AsyncConnection
) -> None:
    account = await make_account()
    post = await client.post(
        "/api/v1/posts", json={"title": "t", "body": "b"}, headers=account.headers
    )
    assert post.status_code == 201
    assert (await client.delete(f"{USERS}/me", headers=account.headers)).status_code == 204
    assert_problem(await client.get(f"{USERS}/me", headers=account.headers), 401)
    orphans = await connection.scalar(
        text("SELECT count(*) FROM posts WHERE author_id = :id"), {"id": account.id}
    )
    assert orphans == 0
