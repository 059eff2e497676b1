"""The suite's one launcher of real service processes (`python -m service.serve`, as `make run`
and the image run it), and the cluster node a test may restart."""

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support import databases
from tests.support.migrations import migrated_database
from tests.support.network import free_port
from tests.support.paths import ROOT
from tests.support.settings import TEST_HASH_COST_ENV, TEST_JWT_SECRET, TEST_WEBHOOK_KEY

STARTUP_TIMEOUT = 60.0
"""A deadline, not a wait (readiness is polled): generous, for a machine busy with the other
xdist workers (30 s was seen to run out)."""


@dataclass
class Service:
    port: int
    process: asyncio.subprocess.Process
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def feed(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/v1/ws/posts"

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def terminate(self) -> float:
        """Send SIGTERM; returns the monotonic time it was sent."""
        self.process.send_signal(signal.SIGTERM)
        return time.monotonic()


@asynccontextmanager
async def postgres_service_database(purpose: str) -> AsyncIterator[str]:
    async with databases.postgres_database(purpose) as url:
        await migrated_database(url)
        yield url


@asynccontextmanager
async def running_service(
    database_url: str,
    log: Path,
    *,
    graceful_timeout: int = 10,
    workers: int = 1,
    env: dict[str, str] | None = None,
) -> AsyncIterator[Service]:
    port = free_port()
    environment = _process_env(database_url, drop={"PROMETHEUS_MULTIPROC_DIR"})
    environment |= {
        # Writers here run flat out from one address; tests of the limits pass their own.
        "WRITE_RATE_LIMIT": "off",
        "SEARCH_RATE_LIMIT": "off",
        **TEST_HASH_COST_ENV,
    }
    environment |= env or {}
    command = [
        *(sys.executable, "-m", "service.serve"),
        *("--host", "127.0.0.1", "--port", str(port), "--no-access-log"),
        *("--timeout-graceful-shutdown", str(graceful_timeout), "--workers", str(workers)),
    ]
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *command, cwd=ROOT, env=environment, stdout=out, stderr=asyncio.subprocess.STDOUT
        )
    service = Service(port, process, log)
    try:
        await wait_ready(service)
        yield service
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), graceful_timeout + 5)
            except TimeoutError:
                process.kill()
                await process.wait()


async def wait_ready(service: Service) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    async with httpx.AsyncClient(base_url=service.url, timeout=2) as client:
        while time.monotonic() < deadline:
            if service.process.returncode is not None:
                break
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/health/ready")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    pytest.fail(f"service on port {service.port} did not become ready:\n{service.log_tail()}")


def restartable_primary() -> tuple[str, str]:
    """The cluster node behind TEST_DATABASE_URL, as (CLUSTER_DIR, PRIMARY_PORT) for db-ctl.sh.

    Only the node the suite was given is restarted (never the system PostgreSQL): its port
    must be TEST_DATABASE_URL's and its data directory must exist.
    """
    from sqlalchemy.engine import make_url

    cluster_dir = os.environ.get("CLUSTER_DIR", str(ROOT / ".cluster"))
    url_port = str(make_url(databases.server_url()).port or 5432)
    state = Path(cluster_dir) / "cluster.env"  # "PRIMARY_PORT=.. REPLICA_PORT=..", by db-up.sh
    ports = dict(p.split("=", 1) for p in state.read_text().split()) if state.exists() else {}
    port = ports.get("PRIMARY_PORT", "")
    if port != url_port:
        databases.unavailable(
            f"no restartable cluster primary behind TEST_DATABASE_URL (port {url_port});"
            f" CLUSTER_DIR={cluster_dir} has {port or 'none'}; start one with scripts/db-up.sh"
        )
    return cluster_dir, port


async def db_ctl(cluster: tuple[str, str], *args: str) -> None:
    cluster_dir, port = cluster
    process = await asyncio.create_subprocess_exec(
        str(ROOT / "scripts" / "db-ctl.sh"),
        *args,
        env=os.environ | {"CLUSTER_DIR": cluster_dir, "PRIMARY_PORT": port},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode(errors="replace")


@asynccontextmanager
async def served(
    backend: str, folder: Path, env: dict[str, str] | None = None
) -> AsyncIterator[tuple[Service, str]]:
    """`python -m service.serve` on a fresh, migrated database of `backend`; (service, URL)."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{folder / 'inkwell.db'}"
        await migrated_database(url)
        async with running_service(url, folder / "service.log", env=env) as service:
            yield service, url
        return
    async with (
        postgres_service_database("hostile") as url,
        running_service(url, folder / "service.log", env=env) as service,
    ):
        yield service, url


async def start_worker(
    database_url: str, log: Path, env: dict[str, str] | None = None
) -> asyncio.subprocess.Process:
    """`python -m service.worker` (what `make worker` runs) on `database_url`, its output in
    `log` (appended: a restarted worker keeps one log)."""
    environment = _process_env(database_url) | (env or {})
    before = len(await asyncio.to_thread(_read_or_empty, log))
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "service.worker"),
            cwd=ROOT,
            env=environment,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
    # Started means its signal handlers are in place: a SIGTERM from here on is a clean stop.
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while (
        b"job worker started"
        not in (output := await asyncio.to_thread(_read_or_empty, log))[before:]
    ):
        if process.returncode is not None or time.monotonic() > deadline:
            pytest.fail(f"the worker did not start:\n{output[-2000:].decode(errors='replace')}")
        await asyncio.sleep(0.1)
    return process


def _process_env(database_url: str, drop: set[str] | None = None) -> dict[str, str]:
    """The environment of a service or worker process the tests start: this one's, on
    `database_url`, with the test secrets and JSON logs."""
    environment = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", *(drop or set())}
    }
    return environment | {
        "DATABASE_URL": database_url,
        "ENVIRONMENT": "test",
        "JWT_SECRET": TEST_JWT_SECRET,
        "WEBHOOK_SECRET_KEY": TEST_WEBHOOK_KEY,
        "LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
    }


def _read_or_empty(path: Path) -> bytes:
    return path.read_bytes() if path.exists() else b""
