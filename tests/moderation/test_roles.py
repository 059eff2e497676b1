"""Roles: PUT /users/{id}/role (admins only), GET /moderation/log, `make admin` (the CLI)."""

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.database.engines import create_engine
from service.users.models import Role
from tests.support import databases
from tests.support.accounts import AccountFactory
from tests.support.api import API, create_post
from tests.support.migrations import run_alembic
from tests.support.paths import ROOT
from tests.support.problems import assert_problem
from tests.support.roles import promote
from tests.support.settings import make_settings

LOG = f"{API}/moderation/log"


async def test_only_an_admin_sets_roles_and_never_their_own(
    client: AsyncClient,
    make_account: AccountFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    member, target = await make_account(), await make_account()
    moderator = await promote(sessionmaker, await make_account(), Role.moderator)
    admin = await promote(sessionmaker, await make_account(), Role.admin)
    url = f"{API}/users/{target.id}/role"
    body = {"role": "moderator"}
    assert_problem(await client.put(url, json=body), 401)
    assert_problem(await client.put(url, json=body, headers=member.headers), 403)
    assert_problem(await client.put(url, json=body, headers=moderator.headers), 403)
    # Self: nobody sets their own role, a member or moderator promoting themselves included.
    for account, role in ((member, "admin"), (moderator, "admin"), (admin, "member")):
        own = f"{API}/users/{account.id}/role"
        assert_problem(await client.put(own, json={"role": role}, headers=account.headers), 403)
    assert_problem(await client.put(url, json={"role": "root"}, headers=admin.headers), 422)
    missing = f"{API}/users/999999999/role"
    assert_problem(await client.put(missing, json=body, headers=admin.headers), 404)
    for account, role in ((target, "member"), (member, "member"), (moderator, "moderator")):
        me = await client.get(f"{API}/users/me", headers=account.headers)
        assert me.json()["role"] == role  # the refusals changed nothing

    changed = await client.put(url, json=body, headers=admin.headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["role"] == "moderator"
    me = await client.get(f"{API}/users/me", headers=target.headers)
    assert me.json()["role"] == "moderator"
    entries = (await client.get(LOG, headers=admin.headers)).json()["items"]
    assert entries[0] | {"id": 0, "at": ""} == {
        "id": 0,
        "actor_id": admin.id,
        "action": "user.role",
        "target_type": "user",
        "target_id": str(target.id),
        "detail": "member -> moderator",
        "at": "",
    }


async def test_the_log_is_for_moderators_and_admins_newest_first(
    client: AsyncClient,
    make_account: AccountFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    author, member = await make_account(), await make_account()
    moderator = await promote(sessionmaker, await make_account(), Role.moderator)
    admin = await promote(sessionmaker, await make_account(), Role.admin)
    post = await create_post(client, author)
    url = f"{API}/posts/{post['id']}"
    assert (await client.delete(url, headers=moderator.headers)).status_code == 204
    assert (await client.post(f"{url}/restore", headers=admin.headers)).status_code == 200
    # The author deleting their own post is not a moderator action.
    assert (await client.delete(url, headers=author.headers)).status_code == 204

    assert_problem(await client.get(LOG), 401)
    assert_problem(await client.get(LOG, headers=member.headers), 403)
    # The owner of what the log names is no reader of it either.
    assert_problem(await client.get(LOG, headers=author.headers), 403)
    for reader in (moderator, admin):
        page = await client.get(LOG, headers=reader.headers, params={"limit": 1})
        assert page.status_code == 200
        assert [e["action"] for e in page.json()["items"]] == ["post.restore"]
        rest = await client.get(
            LOG,
            headers=reader.headers,
            params={"limit": 1, "cursor": page.json()["next_cursor"]},
        )
        ours = [(e["action"], e["actor_id"]) for e in rest.json()["items"]]
        assert ours == [("post.delete", moderator.id)]


@pytest.fixture
async def committed_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A migrated database of its own: the CLI commits in its own process."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
        yield await _migrated(url)
        return
    async with databases.postgres_database("cli") as url:
        yield await _migrated(url)


async def _migrated(url: str) -> str:
    engine = create_engine(url, make_settings(url))
    async with engine.begin() as connection:
        await run_alembic(connection, "upgrade", "head")
        await connection.execute(
            text(
                "INSERT INTO users (username, email, password_hash, created_at, updated_at)"
                " VALUES ('boss', 'boss@example.com', 'x', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
    await engine.dispose()
    return url


async def _cli(url: str, *args: str) -> tuple[int, str]:
    env = os.environ | {"DATABASE_URL": url, "ENVIRONMENT": "test"}
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "service.moderation.cli", *args),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_make_admin_promotes_an_existing_user(committed_url: str) -> None:
    code, output = await _cli(committed_url, "make-admin", "Boss")
    assert (code, output.strip()) == (0, "boss (id 1) is now an admin")
    code, output = await _cli(committed_url, "make-admin", "nobody")
    assert code == 1
    assert "nobody" in output
    engine = create_engine(committed_url, make_settings(committed_url))
    async with engine.connect() as connection:
        role = await connection.execute(text("SELECT role FROM users WHERE username = 'boss'"))
        log = await connection.execute(text("SELECT actor_id, action FROM moderation_log"))
        assert role.scalar_one() == "admin"
        assert log.all() == [(None, "user.role")]
    await engine.dispose()
