"""What a 2xx promises survives a crash: real uvicorn processes SIGKILLed right after their
answer, restarted on the same database (both backends).

Figures: `.venv/bin/pytest tests/ops/test_durability.py -s -p no:cacheprovider` prints the
attempted / acknowledged / expected / delivered / duplicated counts of each run.
"""

import asyncio
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.ops.durability_support import FAST
from tests.support.api import create_post_as, register
from tests.support.databases import query_rows
from tests.support.servers import running_service, start_worker

KILLS, POSTS_PER_LIFE, FOLLOWERS = 5, 3, 12


def report(line: str) -> None:
    sys.stdout.write(f"\n{line}\n")


@pytest.mark.slow("SIGKILLs and restarts a real server under writes, then waits for every job")
async def test_sigkill_right_after_the_201_loses_no_notification_and_duplicates_none(
    service_db: str, tmp_path: Path, backend: str
) -> None:
    async with (
        running_service(service_db, tmp_path / "setup.log", env=FAST) as svc,
        httpx.AsyncClient(base_url=svc.url) as client,
    ):
        author = await register(client, "durable_author")
        for i in range(FOLLOWERS):
            fan = await register(client, f"durable_fan_{i}")
            assert (
                await client.put(f"/api/v1/users/{author.id}/follow", headers=fan.headers)
            ).is_success
    attempted, acknowledged, left_behind = 0, [], 0
    for life in range(KILLS):
        async with running_service(service_db, tmp_path / f"life{life}.log", env=FAST) as svc:
            async with httpx.AsyncClient(base_url=svc.url) as client:
                for i in range(POSTS_PER_LIFE):
                    attempted += 1
                    post = await create_post_as(client, author.headers, title=f"life {life}.{i}")
                    acknowledged.append(post["id"])
            svc.process.kill()  # SIGKILL right after the last 201: no shutdown, no drain
            await svc.process.wait()
        undone = (
            "SELECT count(*) FROM outbox_events WHERE state <> 'done' AND topic = 'post.published'"
        )
        left_behind += (await query_rows(service_db, undone))[0][0]
    expected = len(acknowledged) * FOLLOWERS
    async with running_service(service_db, tmp_path / "after.log", env=FAST):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            done = await query_rows(
                service_db,
                "SELECT count(*) FROM outbox_events WHERE state = 'done'"
                " AND topic = 'post.published'",
            )
            if done[0][0] == len(acknowledged):
                break
            await asyncio.sleep(0.2)
    rows = await query_rows(
        service_db,
        "SELECT post_id, user_id, count(*) FROM notifications GROUP BY post_id, user_id",
    )
    delivered = sum(count for _, _, count in rows)
    duplicated = sum(count - 1 for _, _, count in rows)
    per_post = {post_id for post_id, _, _ in rows}
    report(
        f"durability [{backend}] SIGKILL after 201 x{KILLS}: attempted {attempted},"
        f" acknowledged {len(acknowledged)}, events left undone by the kills {left_behind},"
        f" notifications expected {expected}, delivered {delivered}, duplicated {duplicated}"
    )
    assert len(acknowledged) == attempted
    assert duplicated == 0
    assert delivered == expected
    assert per_post == set(acknowledged)
    assert all(count == 1 for _, _, count in rows)


async def next_frame(ws: Any, within: float = 5.0) -> dict[str, Any]:
    frame = json.loads(await asyncio.wait_for(ws.recv(), within))
    assert isinstance(frame, dict)
    return frame


async def test_a_client_resuming_with_its_last_event_id_misses_nothing(
    service_db: str, tmp_path: Path, backend: str
) -> None:
    async with (
        running_service(service_db, tmp_path / "feed.log", env=FAST) as svc,
        httpx.AsyncClient(base_url=svc.url) as client,
    ):
        author = (await register(client, "resumer")).headers
        async with connect(svc.feed) as ws:
            first = await create_post_as(client, author, title="before")
            frame = await next_frame(ws)
            assert (frame["type"], frame["post"]) == ("post.published", first)
            last = frame["event_id"]
        away = [(await create_post_as(client, author, title=f"away {i}"))["id"] for i in range(10)]
        async with connect(f"{svc.feed}?after={last}") as ws:
            replayed = [await next_frame(ws) for _ in away]
            assert [f["post"]["id"] for f in replayed] == away  # every one, in order
            ids = [f["event_id"] for f in replayed]
            assert ids == sorted(set(ids))
            assert ids[0] > last
            live = await create_post_as(client, author, title="live again")
            frame = await next_frame(ws)
            assert frame["post"]["id"] == live["id"]  # the seam: no repeat, no loss
            assert frame["event_id"] > ids[-1]
            with pytest.raises(TimeoutError):
                await next_frame(ws, within=0.5)
        report(f"realtime [{backend}]: published {len(away)} while away, replayed {len(replayed)}")


async def test_unknown_event_ids_get_a_gap_frame_then_the_live_feed(
    service_db: str, tmp_path: Path
) -> None:
    async with (
        running_service(service_db, tmp_path / "gap.log", env=FAST) as svc,
        httpx.AsyncClient(base_url=svc.url) as client,
    ):
        author = (await register(client, "gapper")).headers
        async with connect(f"{svc.feed}?after=999999999") as ws:
            assert await next_frame(ws) == {"type": "gap"}
            post = await create_post_as(client, author, title="after the gap")
            assert (await next_frame(ws))["post"]["id"] == post["id"]
        malformed = await client.get("/api/v1/ws/posts?after=-1")
        assert malformed.status_code in (400, 403, 404, 422)


async def test_a_full_server_closes_new_clients_with_1013(service_db: str, tmp_path: Path) -> None:
    env = FAST | {"REALTIME_MAX_CLIENTS": "2"}
    async with running_service(service_db, tmp_path / "cap.log", env=env) as svc:
        async with connect(svc.feed), connect(svc.feed):
            async with connect(svc.feed) as third:
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(third.recv(), 5)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1013
        # Room again once the server has noticed that the others left (it learns it from
        # their close frames, asynchronously): retry for a bounded time.
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            code = None
            async with connect(svc.feed) as again:
                try:
                    await asyncio.wait_for(again.recv(), 0.3)
                except TimeoutError:
                    break  # connected and simply idle: admitted
                except ConnectionClosed as refused:
                    code = refused.rcvd.code if refused.rcvd is not None else None
            assert code == 1013
            assert asyncio.get_running_loop().time() < deadline, "no room after the others left"
            await asyncio.sleep(0.1)


async def test_a_separate_worker_process_does_the_work(
    service_db: str, tmp_path: Path, backend: str
) -> None:
    """`JOBS_EMBEDDED=false` service + `python -m service.worker` (what `make worker` runs)."""
    env = FAST | {"JOBS_EMBEDDED": "false"}
    async with (
        running_service(service_db, tmp_path / "svc.log", env=env) as svc,
        httpx.AsyncClient(base_url=svc.url) as client,
    ):
        author = await register(client, "worker_author")
        fan = await register(client, "worker_fan")
        await client.put(f"/api/v1/users/{author.id}/follow", headers=fan.headers)
        await create_post_as(client, author.headers, title="for the worker")
        await asyncio.sleep(0.5)
        undone = (
            "SELECT count(*) FROM outbox_events WHERE state = 'pending'"
            " AND topic = 'post.published'"
        )
        assert (await query_rows(service_db, undone))[0][0] == 1  # the service ran nothing
        worker = await start_worker(service_db, tmp_path / "worker.log", env)
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                if not (await query_rows(service_db, undone))[0][0]:
                    break
                await asyncio.sleep(0.2)
            page = (await client.get("/api/v1/users/me/notifications", headers=fan.headers)).json()
            assert [n["actor"]["username"] for n in page["items"]] == ["worker_author"]
        finally:
            worker.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(worker.wait(), 10) == 0
