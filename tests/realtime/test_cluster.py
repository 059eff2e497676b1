"""Two real uvicorn instances on one PostgreSQL: the feed crosses instances and survives restarts.

Not parametrized by backend: these tests always need PostgreSQL (LISTEN/NOTIFY).
Latency report: `OPS_LATENCY_POSTS=1000 .venv/bin/pytest tests/realtime/test_cluster.py
-k latency -s` prints median and p99 (POST sent through A -> message received from B).
"""

import asyncio
import json
import os
import socket
import statistics
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.support.api import create_post_as, register
from tests.support.servers import (
    Service,
    db_ctl,
    postgres_service_database,
    restartable_primary,
    running_service,
)

QUEUE_SIZE = 8


@pytest.fixture(scope="module")
async def database() -> AsyncIterator[str]:
    async with postgres_service_database("realtime") as url:
        yield url


@pytest.fixture(scope="module")
async def services(
    database: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Service, Service]]:
    logs = tmp_path_factory.mktemp("realtime")
    env = {"REALTIME_QUEUE_SIZE": str(QUEUE_SIZE), "REALTIME_RECONNECT_MAX_SECONDS": "1"}
    async with (
        running_service(database, logs / "a.log", env=env) as a,
        running_service(database, logs / "b.log", env=env) as b,
    ):
        yield a, b


@pytest.fixture(scope="module")
async def author(services: tuple[Service, Service]) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=services[0].url) as client:
        return (await register(client, "feed_author")).headers


async def next_frame(ws: ClientConnection, within: float = 1.0) -> dict[str, Any]:
    frame = json.loads(await asyncio.wait_for(ws.recv(), within))
    assert isinstance(frame, dict)
    return frame


async def next_post(ws: ClientConnection, within: float = 1.0) -> dict[str, Any]:
    frame = await next_frame(ws, within)
    assert frame["type"] == "post.published"
    post: dict[str, Any] = frame["post"]
    return post


async def test_post_created_through_a_reaches_clients_of_a_and_b(
    services: tuple[Service, Service], author: dict[str, str]
) -> None:
    a, b = services
    async with (
        connect(b.feed) as on_b,
        connect(a.feed) as on_a,
        httpx.AsyncClient(base_url=a.url) as client,
    ):
        assert on_b.response is not None
        assert "x-request-id" in on_b.response.headers
        post = await create_post_as(client, author, title="cross-instance")
        assert await next_post(on_b) == post  # exactly the PostPublic JSON, within 1 s
        assert await next_post(on_a) == post


async def test_drafts_are_pushed_only_once_published(
    services: tuple[Service, Service], author: dict[str, str]
) -> None:
    a, b = services
    async with connect(b.feed) as on_b, httpx.AsyncClient(base_url=a.url) as client:
        draft = await client.post(
            "/api/v1/posts", json={"title": "draft", "body": "x"}, headers=author
        )
        with pytest.raises(TimeoutError):
            await next_post(on_b, within=0.5)
        published = await client.patch(
            f"/api/v1/posts/{draft.json()['id']}", json={"status": "published"}, headers=author
        )
        message = await next_post(on_b)
        assert (message["id"], message["status"]) == (draft.json()["id"], "published")
        assert message["version"] == published.json()["version"]


def small_buffer_socket(port: int) -> socket.socket:
    """A client that reads nothing fills up after a few KB instead of megabytes."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    return sock


async def dropped_clients(service: Service) -> float:
    async with httpx.AsyncClient(base_url=service.url) as client:
        text = (await client.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith("realtime_dropped_clients_total"):
            return float(line.split()[-1])
    return 0.0


async def test_a_slow_client_is_dropped_without_affecting_others(
    services: tuple[Service, Service], author: dict[str, str]
) -> None:
    a, b = services
    before = await dropped_clients(b)
    received: list[int] = []
    caught_up = asyncio.Event()
    sent: list[int] = []

    async def read_all(ws: ClientConnection) -> None:
        async for message in ws:
            received.append(json.loads(message)["post"]["id"])
            if received == sent:
                caught_up.set()

    # No keepalive pings from the client that never reads: when the run takes over 40 s (a busy
    # machine), its own ping timeout closed it (1011) before it read the server's 1013.
    slow = await connect(b.feed, sock=small_buffer_socket(b.port), max_queue=1, ping_interval=None)
    async with connect(b.feed) as fast, httpx.AsyncClient(base_url=a.url) as client:
        reader = asyncio.create_task(read_all(fast))
        for i in range(300):
            # Incompressible bodies: permessage-deflate would squeeze repeated text to nothing.
            big = os.urandom(40_000).hex()
            sent.append((await create_post_as(client, author, title=f"big {i}", body=big))["id"])
            if i > 20 and await dropped_clients(b) > before:
                break
        assert await dropped_clients(b) == before + 1, "the slow client was never dropped"
        # The slow client now reads what was already on the wire, then learns why it was cut.
        with pytest.raises(ConnectionClosed) as closed:
            async for _ in slow:
                pass
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
            1013,
            "too slow: reconnect and catch up",
        )
        caught_up.clear()
        if received != sent:
            await asyncio.wait_for(caught_up.wait(), 5)
        assert received == sent  # the healthy client got every post, in order
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


async def test_delivery_latency_across_instances(
    services: tuple[Service, Service], author: dict[str, str]
) -> None:
    a, b = services
    count = int(os.environ.get("OPS_LATENCY_POSTS", "100"))
    latencies: list[float] = []
    after_response: list[float] = []
    async with connect(b.feed) as on_b, httpx.AsyncClient(base_url=a.url) as client:
        for i in range(count):
            sent = time.perf_counter()
            post = await create_post_as(client, author, title=f"latency {i}")
            answered = time.perf_counter()
            while (await next_post(on_b))["id"] != post["id"]:
                pass
            received = time.perf_counter()
            latencies.append((received - sent) * 1000)
            after_response.append((received - answered) * 1000)
    latencies.sort()
    median = statistics.median(latencies)
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
    after_response.sort()
    sys.stdout.write(
        f"\nwebsocket delivery A->B over {count} posts (POST sent -> frame received):"
        f" median {median:.1f} ms, p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms;"
        f" after the 201 arrived: median {statistics.median(after_response):.1f} ms,"
        f" p99 {after_response[max(0, int(count * 0.99) - 1)]:.1f} ms\n"
    )
    assert p99 < 1000


@pytest.mark.exclusive("restarts the primary")
async def test_a_resuming_client_misses_nothing_across_a_primary_restart(
    services: tuple[Service, Service], author: dict[str, str]
) -> None:
    """Posts go through A while the primary restarts; a client of B that resumes with its last
    event_id whenever its socket closes gets every acknowledged post, once, in event order."""
    cluster = restartable_primary()
    a, b = services
    count = int(os.environ.get("OPS_RESTART_POSTS", "60"))
    frames: list[dict[str, Any]] = []
    gaps, connections = 0, 0
    async with httpx.AsyncClient(base_url=a.url, timeout=5) as client:
        async with connect(b.feed) as on_b:
            marker = await create_post_as(client, author, title="marker")
            while (frame := await next_frame(on_b))["post"]["id"] != marker["id"]:
                pass
        last = frame["event_id"]

        async def follow() -> None:
            nonlocal last, gaps, connections
            while True:
                try:
                    async with connect(f"{b.feed}?after={last}") as ws:
                        connections += 1
                        async for raw in ws:
                            frame = json.loads(raw)
                            if frame.get("type") == "gap":
                                gaps += 1
                                continue
                            frames.append(frame)
                            last = frame["event_id"]
                except (ConnectionClosed, OSError):
                    await asyncio.sleep(0.2)

        reader = asyncio.create_task(follow())
        acknowledged: list[int] = []
        failed = 0
        restart = None
        try:
            for i in range(count):
                if i == count // 3:
                    restart = asyncio.create_task(db_ctl(cluster, "primary", "restart-fast"))
                try:
                    acknowledged.append(
                        (await create_post_as(client, author, title=f"through restart {i}"))["id"]
                    )
                except (AssertionError, httpx.HTTPError):
                    failed += 1
                    await asyncio.sleep(0.1)
            assert restart is not None
            await restart
        finally:
            await db_ctl(cluster, "primary", "start")  # whatever happened, leave it running
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if set(acknowledged) <= {f["post"]["id"] for f in frames}:
                break
            await asyncio.sleep(0.2)
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    received = [f["post"]["id"] for f in frames]
    missing = set(acknowledged) - set(received)
    sys.stdout.write(
        f"\nrealtime across a primary restart: attempted {count}, acknowledged"
        f" {len(acknowledged)}, failed {failed}; frames received by the resuming client"
        f" {len(received)} ({len(missing)} missing, {len(received) - len(set(received))}"
        f" repeated) over {connections} connection(s), {gaps} gap frame(s)\n"
    )
    assert missing == set(), b.log_tail()
    assert len(received) == len(set(received))
    event_ids = [f["event_id"] for f in frames]
    assert event_ids == sorted(event_ids)
    assert gaps == 0
