"""compose.yaml + compose.local.yaml brought up with podman-compose and driven through nginx:
two app instances, PostgreSQL primary + streaming replica, PgBouncer (make compose-test)."""

import asyncio
import itertools
import json
import sys
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.container import podman, stack
from tests.container.client import register
from tests.container.stack import APPS, FEED, PROXY, metric, sql

pytestmark = pytest.mark.container

WRITERS = 4


@pytest.fixture(scope="module")
async def proxy() -> AsyncIterator[str]:
    await podman.require_podman()
    await stack.script("compose-down.sh", 120)  # a leftover of an interrupted run
    started = time.monotonic()
    output = await stack.script("compose-up.sh", 900)
    sys.stdout.write(f"\n{output}[compose] up in {time.monotonic() - started:.1f} s\n")
    try:
        yield PROXY
    finally:
        await stack.script("compose-down.sh", 120)


@pytest.fixture(scope="module")
async def author(proxy: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=proxy) as client:
        return await register(client, "compose_author")


async def publish(client: httpx.AsyncClient, author: dict[str, str], title: str) -> httpx.Response:
    body = {"title": title, "body": "b", "status": "published"}
    created = await client.post("/api/v1/posts", json=body, headers=author)
    assert created.status_code == 201, created.text
    return created


async def routed(target: str) -> dict[str, float]:
    return {app: await metric(app, "db_route_total", f'target="{target}"') for app in APPS}


async def test_writes_land_on_the_primary_and_reads_hit_the_replica(
    proxy: str, author: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=proxy) as client:
        post_id = (await publish(client, author, "to the primary")).json()["id"]
    assert await sql("primary", f"SELECT title FROM posts WHERE id = {post_id}") == [
        "to the primary"
    ]
    await asyncio.sleep(1.5)  # the apps' replica monitors sample the replay position each 1 s
    before = await routed("replica")
    async with httpx.AsyncClient(base_url=proxy) as reader:  # no consistency token
        for _ in range(6):
            assert (await reader.get(f"/api/v1/posts/{post_id}")).status_code == 200
    after = await routed("replica")
    assert all(after[app] > before[app] for app in APPS), (before, after)  # both instances
    assert await sql("replica", "SELECT pg_is_in_recovery()") == ["t"]


async def test_a_client_reads_its_own_writes_through_either_instance(
    proxy: str, author: dict[str, str]
) -> None:
    """With replay paused the replica is stale: a token-less read misses the new post; the
    writer's token sends its reads (round robin over both apps) to the primary."""
    await sql("replica", "SELECT pg_wal_replay_pause()")
    try:
        async with httpx.AsyncClient(base_url=proxy) as writer:
            created = await publish(writer, author, "read your writes")
            token = created.headers["X-Consistency-Token"]
            post = f"/api/v1/posts/{created.json()['id']}"
            async with httpx.AsyncClient(base_url=proxy) as stranger:
                stale = [(await stranger.get(post)).status_code for _ in range(4)]
            before = await routed("primary")
            own = [
                (await writer.get(post, headers={"X-Consistency-Token": token})) for _ in range(4)
            ]
            after = await routed("primary")
    finally:
        await sql("replica", "SELECT pg_wal_replay_resume()")
    assert stale == [404] * 4  # the replica really serves token-less reads
    assert [r.status_code for r in own] == [200] * 4
    assert all(after[app] > before[app] for app in APPS), (before, after)


async def test_the_feed_reaches_clients_on_both_instances(
    proxy: str, author: dict[str, str]
) -> None:
    async with connect(FEED) as first, connect(FEED) as second:
        clients = {app: await metric(app, "realtime_clients") for app in APPS}
        assert clients == {"app1": 1.0, "app2": 1.0}  # nginx put one on each instance
        async with httpx.AsyncClient(base_url=proxy) as client:
            post_id = (await publish(client, author, "to every instance")).json()["id"]
        for feed in (first, second):
            while True:
                frame = json.loads(await asyncio.wait_for(feed.recv(), 10))
                # the post itself, or wrapped as {"event_id", "type", "post"} (SPEC.md)
                if frame.get("post", frame).get("id") == post_id:
                    break


async def test_stopping_one_instance_loses_no_acknowledged_write(
    proxy: str, author: dict[str, str]
) -> None:
    acknowledged: list[int] = []
    failures: list[str] = []
    latencies: list[float] = []
    successes: list[float] = []  # monotonic times of 201s, to find the longest gap
    stop = asyncio.Event()

    async def writer(n: int) -> None:
        async with httpx.AsyncClient(base_url=proxy, timeout=30) as client:
            i = 0
            while not stop.is_set():
                i += 1
                body = {"title": f"failover {n}-{i}", "body": "b", "status": "published"}
                sent = time.monotonic()
                try:
                    response = await client.post("/api/v1/posts", json=body, headers=author)
                except httpx.TransportError as error:
                    failures.append(type(error).__name__)
                    continue
                latencies.append(time.monotonic() - sent)
                if response.status_code == 201:
                    acknowledged.append(response.json()["id"])
                    successes.append(time.monotonic())
                else:
                    failures.append(str(response.status_code))

    writers = [asyncio.create_task(writer(n)) for n in range(WRITERS)]
    await asyncio.sleep(2)
    before = len(acknowledged)
    sent = time.monotonic()
    await podman.run("stop", "--time", "30", stack.container("app1"))
    stopped = time.monotonic() - sent
    at_stop = len(acknowledged)
    await asyncio.sleep(3)  # nginx serves through app2 alone
    stop.set()
    await asyncio.gather(*writers)
    exit_code = await podman.run(
        "inspect", "--format", "{{.State.ExitCode}}", stack.container("app1")
    )

    stored = {int(i) for i in await sql("primary", "SELECT id FROM posts")}
    lost = set(acknowledged) - stored
    window = [t for t in successes if t >= sent - 1]
    gap = max((b - a for a, b in itertools.pairwise(sorted(window))), default=0.0)
    sys.stdout.write(
        f"\n[compose] podman stop app1 (SIGTERM, SHUTDOWN_DELAY_SECONDS=5) -> exited"
        f" {exit_code.out.strip()} in {stopped:.2f} s; writes via nginx: {len(acknowledged)}"
        f" acknowledged ({before} before, {at_stop - before} during the stop,"
        f" {len(acknowledged) - at_stop} after on app2), {len(failures)} failed"
        f" {sorted(set(failures))}, {len(lost)} lost; longest gap between 201s {gap:.2f} s,"
        f" max write latency {max(latencies):.2f} s\n"
    )
    assert not lost  # every 201 is on the primary
    assert len(acknowledged) > at_stop  # nginx kept serving writes through app2
    assert exit_code.out.strip() == "0"
    async with httpx.AsyncClient(base_url=proxy) as client:
        reads = [(await client.get("/health/ready")).status_code for _ in range(6)]
    assert reads == [200] * 6  # only app2 is left, and nginx routes everything to it
