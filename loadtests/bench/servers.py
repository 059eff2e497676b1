"""The three targets under the same uvicorn settings: workers, uvloop, httptools, pool size."""

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from loadtests.bench.config import APPS, BIN, ROOT, say


@dataclass(frozen=True)
class Server:
    name: str
    url: str
    pid: int
    """The uvicorn supervisor, leader of a session of its own (its workers are in it)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def server(
    name: str, workers: int, env: Mapping[str, str], out: Path, *, log: str | None = None
) -> Iterator[Server]:
    """Run one target until the block ends (SIGTERM to its session, then SIGKILL); its output
    in `<log or name>.log`."""
    port = free_port()
    command = [
        str(BIN / "uvicorn"),
        *APPS[name],
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    with (out / f"{log or name}.log").open("w", encoding="utf-8") as output:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_live(f"{base}/health/live", process, name, timeout=60)
            say(f"{name} up on {base} ({workers} workers)")
            yield Server(name, base, process.pid)
        finally:
            _stop(process)


@contextmanager
def paused(target: Server) -> Iterator[None]:
    """The target's processes stopped (SIGSTOP) until the block ends: nothing of it, its job
    worker included, runs meanwhile."""
    os.killpg(target.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(target.pid, signal.SIGCONT)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=25)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextmanager
def servers(
    names: list[str], workers: int, env: Mapping[str, str], out: Path
) -> Iterator[dict[str, Server]]:
    with ExitStack() as stack:
        yield {name: stack.enter_context(server(name, workers, env, out)) for name in names}


def _wait_live(url: str, process: subprocess.Popen[bytes], name: str, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited with {process.returncode}; see {name}.log")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{name}: {url} not live within {timeout}s")
