"""Idempotency-Key through crashes: the recorded answer commits with the write, so a retry after
a SIGKILL between commit and response, or after a primary restart, gets the original answer (or
re-runs a request that never committed), never a stuck 409."""

import asyncio
import contextlib
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.database.engines import create_engine
from tests.ops.durability_support import FAST
from tests.support.api import register
from tests.support.servers import (
    db_ctl,
    postgres_service_database,
    restartable_primary,
    running_service,
)
from tests.support.settings import make_settings

POSTS = "/api/v1/posts"
KILLS = 4


@asynccontextmanager
async def observer(url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(url, make_settings(url), role="observer")
    try:
        yield engine
    finally:
        await engine.dispose()


async def posts_titled(engine: AsyncEngine, title: str) -> list[int]:
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT id FROM posts WHERE title = :t"), {"t": title})
        return [int(r[0]) for r in rows]


@pytest.mark.slow("SIGKILLs and restarts a real server 4 times")
async def test_sigkill_between_commit_and_response_then_retry_gets_the_answer(
    service_db: str, tmp_path: Path, backend: str
) -> None:
    async with (
        running_service(service_db, tmp_path / "setup.log", env=FAST) as svc,
        httpx.AsyncClient(base_url=svc.url) as client,
    ):
        author = (await register(client, "idem_killer")).headers
    unanswered = 0
    async with observer(service_db) as db:
        for life in range(KILLS):
            title = f"killed {life}"
            headers = author | {"Idempotency-Key": uuid.uuid4().hex}
            body = {"title": title, "body": "b", "status": "published"}
            async with (
                running_service(service_db, tmp_path / f"life{life}.log", env=FAST) as svc,
                httpx.AsyncClient(base_url=svc.url, timeout=10) as client,
            ):
                request = asyncio.create_task(client.post(POSTS, json=body, headers=headers))
                deadline = time.monotonic() + 10
                while not await posts_titled(db, title):  # committed: kill it now
                    assert time.monotonic() < deadline
                svc.process.kill()
                await svc.process.wait()
                try:
                    await request
                except httpx.HTTPError:
                    unanswered += 1  # the kill landed between the commit and the response
            async with (
                running_service(service_db, tmp_path / f"retry{life}.log", env=FAST) as svc,
                httpx.AsyncClient(base_url=svc.url) as client,
            ):
                retry = await client.post(POSTS, json=body, headers=headers)
            assert retry.status_code == 201, retry.text
            assert retry.headers["idempotent-replayed"] == "true"
            assert [retry.json()["id"]] == await posts_titled(db, title)
    sys.stdout.write(
        f"\nidempotency [{backend}]: {KILLS} SIGKILLs after commit, {unanswered} of them before"
        f" the response; every retry replayed the original 201 (0 stuck at 409)\n"
    )


@pytest.mark.exclusive("restarts the primary")
async def test_retries_after_a_primary_restart_replay_or_re_run_never_409(
    tmp_path: Path,
) -> None:
    cluster = restartable_primary()
    async with postgres_service_database("idem_restart") as url:
        async with (
            running_service(url, tmp_path / "svc.log", env=FAST) as svc,
            httpx.AsyncClient(base_url=svc.url, timeout=5) as client,
        ):
            author = (await register(client, "idem_restart")).headers
            keys = [uuid.uuid4().hex for _ in range(40)]
            first: dict[str, int] = {}
            restart = None
            try:
                for i, key in enumerate(keys):
                    if i == len(keys) // 3:
                        restart = asyncio.create_task(db_ctl(cluster, "primary", "restart-fast"))
                    body = {"title": f"restart {key}", "body": "b", "status": "published"}
                    with contextlib.suppress(httpx.HTTPError):
                        response = await client.post(
                            POSTS, json=body, headers=author | {"Idempotency-Key": key}
                        )
                        if response.status_code == 201:
                            first[key] = response.json()["id"]
                assert restart is not None
                await restart
            finally:
                await db_ctl(cluster, "primary", "start")
            statuses: dict[int, int] = {}
            for key in keys:
                body = {"title": f"restart {key}", "body": "b", "status": "published"}
                for _ in range(20):  # the pool may still hand out a connection that died
                    retry = await client.post(
                        POSTS, json=body, headers=author | {"Idempotency-Key": key}
                    )
                    if retry.status_code != 503:
                        break
                    await asyncio.sleep(0.2)
                statuses[retry.status_code] = statuses.get(retry.status_code, 0) + 1
                assert retry.status_code == 201, retry.text
                if key in first:
                    assert retry.json()["id"] == first[key]
                    assert retry.headers["idempotent-replayed"] == "true"
                async with observer(url) as db:
                    assert len(await posts_titled(db, f"restart {key}")) == 1
        sys.stdout.write(
            f"\nidempotency across a primary restart: {len(keys)} keys, {len(first)} answered"
            f" 201 the first time; retries: {statuses} (no 409)\n"
        )
