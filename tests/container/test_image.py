"""The real image, built and run by podman: migration job, service, healthcheck, SIGTERM.

The container gets its own network namespace (the CMD's real port 8000, published on a free
host port); `allow_host_loopback` lets it reach the test PostgreSQL on the host's 127.0.0.1
as 10.0.2.2.
"""

import asyncio
import json
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.container import podman
from tests.container.client import register, wait_ready
from tests.support import databases
from tests.support.network import free_port

pytestmark = pytest.mark.container

NETWORK = "slirp4netns:allow_host_loopback=true"
HOST_LOOPBACK = "10.0.2.2"
JWT_SECRET = "container-test-secret-0123456789-0123456789"
WEBHOOK_SECRET_KEY = "container-test-webhook-key-0123456789-0123"
WRITERS = 4
SHUTDOWN_DELAY = 1.0


@dataclass(frozen=True)
class Database:
    host_url: str  # as the test reaches it
    container_url: str  # as a container reaches it


@dataclass(frozen=True)
class Container:
    name: str
    url: str
    seconds_to_ready: float


@pytest.fixture(scope="module")
async def database(image: str) -> AsyncIterator[Database]:
    """A new database, migrated by the image's migration job (`alembic upgrade head`)."""
    async with databases.postgres_database("container") as url:
        parsed = make_url(url)
        host = HOST_LOOPBACK if parsed.host in {"127.0.0.1", "localhost"} else parsed.host
        inside = parsed.set(host=host).render_as_string(hide_password=False)
        job = await podman.run(
            *("run", "--rm", "--network", NETWORK, "-e", f"DATABASE_URL={inside}"),
            *("-e", f"JWT_SECRET={JWT_SECRET}", "-e", f"WEBHOOK_SECRET_KEY={WEBHOOK_SECRET_KEY}"),
            *(image, "alembic", "upgrade", "head"),
        )
        assert "Running upgrade" in job.err, job.err
        yield Database(url, inside)


async def start(image: str, database: Database, *env: str) -> Container:
    name = f"inkwell-ctest-{uuid.uuid4().hex[:8]}"
    port = free_port()
    started = time.monotonic()
    await podman.run(
        *("run", "--detach", "--name", name, "--network", NETWORK),
        *("--publish", f"127.0.0.1:{port}:8000", "--stop-timeout", "30"),
        *("-e", f"DATABASE_URL={database.container_url}", "-e", f"JWT_SECRET={JWT_SECRET}"),
        *("-e", f"WEBHOOK_SECRET_KEY={WEBHOOK_SECRET_KEY}"),
        *(arg for pair in (("-e", e) for e in env) for arg in pair),
        image,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(url)
    except AssertionError:
        logs = await podman.run("logs", name, check=False)
        await podman.remove(name)
        raise AssertionError(f"not ready:\n{logs.out[-2000:]}{logs.err[-2000:]}") from None
    return Container(name, url, time.monotonic() - started)


@pytest.fixture(scope="module")
async def service(image: str, database: Database) -> AsyncIterator[Container]:
    container = await start(image, database)
    sys.stdout.write(f"\n[container] podman run -> ready in {container.seconds_to_ready:.2f} s\n")
    yield container
    await podman.remove(container.name)


async def test_migration_job_brought_the_schema_to_head(service: Container) -> None:
    async with httpx.AsyncClient(base_url=service.url) as client:
        ready = await client.get("/health/ready")
    assert ready.json() == {"status": "ok", "primary": "ok", "schema": "ok"}


async def test_a_write_and_a_read_through_the_container(service: Container) -> None:
    async with httpx.AsyncClient(base_url=service.url) as client:
        author = await register(client, "container_writer")
        body = {"title": "From a container", "body": "b", "status": "published"}
        created = await client.post("/api/v1/posts", json=body, headers=author)
        assert created.status_code == 201, created.text
        read = await client.get(f"/api/v1/posts/{created.json()['id']}")
    assert read.status_code == 200
    assert read.json()["title"] == "From a container"


async def test_the_process_runs_as_uid_10001(service: Container) -> None:
    inspected = await podman.run("inspect", "--format", "{{.State.Pid}}", service.name)
    status = (await asyncio.to_thread(_read_status, int(inspected.out))).splitlines()
    uids = next(line for line in status if line.startswith("Uid:")).split()[1:]
    assert set(uids) == {"10001"}  # real, effective, saved, filesystem: never root
    user = await podman.run("exec", service.name, "id", "-u")
    assert user.out.strip() == "10001"


def _read_status(pid: int) -> str:
    with open(f"/proc/{pid}/status") as status:
        return status.read()


async def test_the_images_healthcheck_passes_inside_the_container(
    image: str, service: Container
) -> None:
    inspected = json.loads((await podman.run("image", "inspect", image)).out)
    test = inspected[0]["Healthcheck"]["Test"]  # kept: the image is in Docker format
    assert test[:2] == ["CMD", "python"]
    assert "/health/live" in test[-1]
    checked = await podman.run("healthcheck", "run", service.name, check=False)
    assert checked.code == 0, checked.out + checked.err
    health = await podman.run("inspect", "--format", "{{.State.Health.Status}}", service.name)
    assert health.out.strip() == "healthy"


async def test_sigterm_drains_in_flight_writes_and_loses_none(
    image: str, database: Database
) -> None:
    # One author writing flat out: its write budget (WRITE_RATE_LIMIT) is not what this tests.
    container = await start(
        image, database, f"SHUTDOWN_DELAY_SECONDS={SHUTDOWN_DELAY}", "WRITE_RATE_LIMIT=off"
    )
    try:
        async with httpx.AsyncClient(base_url=container.url) as setup:
            author = await register(setup, "container_drain")
        acknowledged: list[int] = []
        refused = 0

        async def writer(n: int) -> None:
            nonlocal refused
            async with httpx.AsyncClient(base_url=container.url, timeout=30) as client:
                for i in range(10_000):
                    body = {"title": f"w{n}-{i}", "body": "b", "status": "published"}
                    try:
                        response = await client.post("/api/v1/posts", json=body, headers=author)
                    except httpx.TransportError:
                        return  # the container stopped accepting: this writer is done
                    if response.status_code == 201:
                        acknowledged.append(response.json()["id"])
                    else:
                        refused += 1

        writers = [asyncio.create_task(writer(n)) for n in range(WRITERS)]
        await asyncio.sleep(1.0)
        before = len(acknowledged)
        sent = time.monotonic()
        stop = asyncio.create_task(podman.run("stop", "--time", "30", container.name))
        await asyncio.sleep(SHUTDOWN_DELAY / 3)
        async with httpx.AsyncClient(base_url=container.url) as probe:
            ready = await probe.get("/health/ready")
        assert ready.status_code == 503  # at once, while it still serves
        await stop
        stopped = time.monotonic() - sent
        await asyncio.wait_for(asyncio.gather(*writers), 30)
        state = await podman.run(
            "inspect", "--format", "{{.State.ExitCode}} {{.State.Status}}", container.name
        )
        logs = await podman.run("logs", container.name)
    finally:
        await podman.remove(container.name)

    connection = await asyncpg.connect(databases._dsn(database.host_url))
    try:
        stored = {row["id"] for row in await connection.fetch("SELECT id FROM posts")}
    finally:
        await connection.close()
    lost = set(acknowledged) - stored
    sys.stdout.write(
        f"\n[container] podman stop (SIGTERM) -> exited in {stopped:.2f} s"
        f" ({SHUTDOWN_DELAY:.0f} s readiness delay); {len(acknowledged)} writes acknowledged,"
        f" {len(acknowledged) - before} after SIGTERM, {refused} refused, {len(lost)} lost\n"
    )
    assert state.out.split() == ["0", "exited"]  # a clean exit, not SIGKILL after the timeout
    assert "Application shutdown complete" in logs.out + logs.err
    assert len(acknowledged) > before  # writes kept succeeding during the delay
    assert not lost  # every 201 is durable
    assert stopped < 20 + SHUTDOWN_DELAY
