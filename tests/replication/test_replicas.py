"""Replica routing on a real streaming replica: where reads run, read-your-writes, fail-over."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from fastapi import FastAPI

from service.replication.tokens import COOKIE, HEADER, TokenCodec
from service.users.settings import USERS_SETTINGS
from tests.scaleout.probe import running_app
from tests.support.api import asgi_client, register_with_token
from tests.support.scaleout import ScaleoutDb, wait_for
from tests.support.settings import make_settings

FAST_CHECKS = {"db_replica_check_interval": 0.2, "db_replica_cooldown": 1.0}


@pytest.fixture
async def replica_app(scaleout_db: ScaleoutDb) -> AsyncIterator[FastAPI]:
    # a generous lag limit: the paused-replay test must still see the replica as usable
    settings = make_settings(
        scaleout_db.primary_url,
        database_replica_urls=[scaleout_db.replica_url],
        db_replica_max_lag=120.0,
        **FAST_CHECKS,
    )
    async with running_app(settings) as app:
        await wait_until_replica_used(app)
        yield app


async def wait_until_replica_used(app: FastAPI, within: float = 30) -> None:
    async with asgi_client(app) as client:

        async def on_replica() -> bool:
            response = await client.get("/_test/where")
            return response.status_code == 200 and response.json()["replica"] is True

        await wait_for(on_replica, within=within, interval=0.2)


async def test_read_runs_on_replica_and_write_on_primary(replica_app: FastAPI) -> None:
    async with asgi_client(replica_app) as client:
        read = await client.get("/_test/where")
        write = await client.post("/_test/where")
    assert read.status_code == 200
    assert read.json()["replica"] is True
    assert HEADER not in read.headers
    assert write.status_code == 200
    assert write.json()["replica"] is False


async def test_health_reports_replica_state_and_lag(replica_app: FastAPI) -> None:
    async with asgi_client(replica_app) as client:
        response = await client.get("/health/ready")
    body = response.json()
    assert response.status_code == 200
    [replica] = body["replicas"]
    assert replica["state"] == "ok"
    assert replica["lag_seconds"] is not None
    assert replica["lag_seconds"] < 120


async def _set_replay(db: ScaleoutDb, paused: bool) -> None:
    connection = await asyncpg.connect(db.dsn(db.replica_url), timeout=5)
    try:
        call = "pg_wal_replay_pause" if paused else "pg_wal_replay_resume"
        await connection.execute(f"SELECT {call}()")
    finally:
        await connection.close()


@pytest.mark.exclusive("pauses replay on the replica")
async def test_read_your_writes_while_replay_is_paused(
    replica_app: FastAPI, scaleout_db: ScaleoutDb
) -> None:
    async with asgi_client(replica_app) as writer, asgi_client(replica_app) as stranger:
        headers = (await register_with_token(writer, USERS_SETTINGS.of(replica_app))).headers
        await wait_until_replica_used(replica_app)
        await _set_replay(scaleout_db, paused=True)
        try:
            created = await writer.post(
                "/api/v1/posts",
                json={"title": "fresh", "body": "just written", "status": "published"},
                headers=headers,
            )
            assert created.status_code == 201, created.text
            token = created.headers[HEADER]
            cookie = created.headers["set-cookie"]
            assert cookie.startswith(f"{COOKIE}={token};")
            assert "HttpOnly" in cookie
            assert "SameSite=Lax" in cookie
            assert "Path=/" in cookie
            path = f"/api/v1/posts/{created.json()['id']}"

            # the writer's cookie jar sends the token back: served by a caught-up database
            own = await writer.get(path)
            assert own.status_code == 200, own.text
            # the header alone works too (API clients without cookies)
            by_header = await stranger.get(path, headers={HEADER: token})
            assert by_header.status_code == 200
            # no token: the paused replica answers, and it has not seen the post yet
            assert (await stranger.get(path)).status_code == 404
            assert (await stranger.get("/_test/where")).json()["replica"] is True
            # a forged or malformed token is ignored (never a 500)
            lsn, _, _ = token.partition(".")
            for bad in (f"{lsn}.0000000000000000", "garbage", "ff" * 40, "zz.zz"):
                response = await stranger.get(path, headers={HEADER: bad})
                assert response.status_code == 404, bad
        finally:
            await _set_replay(scaleout_db, paused=False)
    async with asgi_client(replica_app) as late:
        # replay resumed: the replica catches up and serves the post without any token
        async def visible() -> bool:
            return (await late.get(path)).status_code == 200

        await wait_for(visible, within=30)


async def test_reads_without_writes_carry_no_token(replica_app: FastAPI) -> None:
    async with asgi_client(replica_app) as client:
        headers = (await register_with_token(client, USERS_SETTINGS.of(replica_app))).headers
        response = await client.get("/api/v1/posts", headers=headers)
    assert response.status_code == 200
    assert HEADER not in response.headers
    assert "set-cookie" not in response.headers


@pytest.mark.exclusive("stops the replica")
async def test_stopped_replica_falls_back_to_primary_and_returns(
    replica_app: FastAPI, scaleout_db: ScaleoutDb
) -> None:
    cluster = scaleout_db.cluster
    async with asgi_client(replica_app) as client:
        assert (await client.get("/_test/where")).json()["replica"] is True
        try:
            cluster.ctl("replica", "stop")
            served: list[Any] = []
            for _ in range(10):
                response = await client.get("/_test/where")
                assert response.status_code == 200, response.text
                served.append(response.json()["replica"])
                listing = await client.get("/api/v1/posts")
                assert listing.status_code == 200, listing.text
            assert served == [False] * 10
            ready = await client.get("/health/ready")
            assert ready.status_code == 200
            assert ready.json()["replicas"][0]["state"] == "down"
        finally:
            cluster.ctl("replica", "start")
        await wait_until_replica_used(replica_app, within=60)


@pytest.mark.exclusive("holds replay on the replica for 5 s (a recovery conflict)")
async def test_recovery_conflict_is_retried_once_on_the_primary(
    replica_app: FastAPI, scaleout_db: ScaleoutDb
) -> None:
    """An ACCESS EXCLUSIVE lock replayed from the primary cancels the replica's query after
    max_standby_streaming_delay (5 s in db-up.sh) with SQLSTATE 40001; the GET is answered by
    the primary instead of failing."""

    async def replica_query_running() -> bool:
        connection = await asyncpg.connect(scaleout_db.dsn(scaleout_db.replica_url), timeout=5)
        try:
            return bool(
                await connection.fetchval(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE state = 'active' AND query LIKE '%FROM posts, pg_sleep%'"
                    " AND pid <> pg_backend_pid()"
                )
            )
        finally:
            await connection.close()

    async with asgi_client(replica_app) as client:
        request = asyncio.create_task(client.get("/_test/conflict", params={"seconds": 30}))
        await wait_for(replica_query_running, within=10, interval=0.05)
        primary = await asyncpg.connect(scaleout_db.dsn(scaleout_db.primary_url), timeout=5)
        try:
            async with primary.transaction():
                await primary.execute("LOCK TABLE posts IN ACCESS EXCLUSIVE MODE")
        finally:
            await primary.close()
        response = await asyncio.wait_for(request, timeout=25)
    assert response.status_code == 200, response.text
    assert response.json() == {"replica": False}


async def test_reads_run_without_begin_on_replica_and_primary(replica_app: FastAPI) -> None:
    far_future = TokenCodec(USERS_SETTINGS.of(replica_app).jwt_secret).encode(2**60)
    async with asgi_client(replica_app) as client:
        on_replica = (await client.get("/_test/autocommit")).json()
        on_primary = (await client.get("/_test/autocommit", headers={HEADER: far_future})).json()
    assert on_replica == {"autocommit": True, "replica": True}
    # a token no replica has reached: served by the primary, still without BEGIN
    assert on_primary == {"autocommit": True, "replica": False}
