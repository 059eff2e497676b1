"""The processes under test: two `python -m service.serve` instances and one job worker."""

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from loadtests.chaos.cluster import ROOT

JWT_SECRET = "chaos-secret-0123456789-0123456789-0123456789"
STARTUP_SECONDS = 90.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def environment(
    database_url: str, replicas: list[str], redis_port: int | None = None
) -> dict[str, str]:
    """Every process's settings: the DSN, its nodes as replicas, Redis counting every write."""
    limits = (
        {
            "RATE_LIMIT_STORAGE_URI": f"redis://127.0.0.1:{redis_port}/0",
            "WRITE_RATE_LIMIT": "100000/minute",
        }
        if redis_port
        else {"WRITE_RATE_LIMIT": "off"}
    )
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_", "DB_", "JOBS_", "PROMETHEUS_", "RATE_LIMIT"))
    }
    return inherited | {
        "DATABASE_URL": database_url,
        "DATABASE_REPLICA_URLS": ",".join(replicas),
        "ENVIRONMENT": "test",
        "JWT_SECRET": JWT_SECRET,
        "WEBHOOK_SECRET_KEY": "chaos-webhook-key-0123456789-0123456789-012",
        "LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
        "SEARCH_RATE_LIMIT": "off",
        "PASSWORD_HASH_MEMORY_KIB": "1024",
        "PASSWORD_HASH_TIME_COST": "1",
        "JOBS_EMBEDDED": "false",
        "DB_POOL_SIZE": "8",
        **limits,
    }


@dataclass
class Proc:
    """One restartable process: its command, environment and log (appended across lives)."""

    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    port: int | None = None
    ready_text: bytes | None = None
    """Started once the log shows it (else: once GET /health/ready answers 200)."""
    process: asyncio.subprocess.Process | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        before = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                *self.command, cwd=ROOT, env=self.env, stdout=out, stderr=asyncio.subprocess.STDOUT
            )
        await self._wait_started(before)

    async def _wait_started(self, before: int) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.returncode is not None:
                    break
                if self.ready_text is not None:
                    if self.ready_text in self.log.read_bytes()[before:]:
                        return
                else:
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(f"{self.url}/health/ready")).status_code == 200:
                            return
                await asyncio.sleep(0.2)
        raise RuntimeError(f"{self.name} did not start; see {self.log}")

    def signal(self, number: signal.Signals) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(number)

    async def wait(self, within: float = 30.0) -> None:
        """Until it exits (SIGKILL after `within` seconds)."""
        if self.process is None:
            return
        try:
            await asyncio.wait_for(self.process.wait(), within)
        except TimeoutError:
            self.signal(signal.SIGKILL)
            await self.process.wait()

    async def stop(self) -> None:
        self.signal(signal.SIGTERM)
        await self.wait()


def app(index: int, env: dict[str, str], folder: Path) -> Proc:
    port = free_port()
    command = [
        *(sys.executable, "-m", "service.serve", "--host", "127.0.0.1", "--port", str(port)),
        *("--no-access-log", "--timeout-graceful-shutdown", "10"),
    ]
    return Proc(f"app{index}", command, env, folder / f"app{index}.log", port)


def worker(env: dict[str, str], folder: Path) -> Proc:
    command = [sys.executable, "-m", "service.worker"]
    return Proc("worker", command, env, folder / "worker.log", ready_text=b"job worker started")


def redis(folder: Path) -> Proc | None:
    """A private Redis for the rate limits (never the shared one at 6379), if installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    port = free_port()
    command = [binary, *("--bind", "127.0.0.1", "--port", str(port), "--save", "")]
    command += ["--appendonly", "no", "--daemonize", "no"]
    ready = b"Ready to accept connections"
    return Proc("redis", command, dict(os.environ), folder / "redis.log", port, ready)


async def migrate(database_url: str) -> None:
    """`alembic upgrade head` on the fresh database."""
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "alembic", "upgrade", "head"),
        cwd=ROOT,
        env=environment(database_url, []),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"migration failed: {output.decode(errors='replace')[-2000:]}")
