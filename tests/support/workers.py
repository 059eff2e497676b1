"""The suite under pytest-xdist: which worker this is, and the lock that keeps the tests that
restart or pause a cluster node from overlapping any other PostgreSQL test.

Each worker is its own process with its own event loop, app, databases (`postgres_database`
names carry the worker id) and server ports (`network.free_port`). What workers still share is
the PostgreSQL server behind TEST_DATABASE_URL and its replica: a test marked `exclusive` takes
`cluster_lock` exclusively, every test that may touch PostgreSQL takes it shared.
"""

import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url


def worker_id() -> str:
    """`gw0`, `gw1`... under xdist; `main` in a run without workers."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def worker_index() -> int:
    name = worker_id()
    return int(name[2:]) if name.startswith("gw") else 0


def worker_count() -> int:
    return int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))


def _lock_path(server_url: str, suffix: str) -> Path:
    """One lock per PostgreSQL server (not per run: two runs on one cluster must not overlap a
    restart either)."""
    url = make_url(server_url)
    key = hashlib.sha256(f"{url.host}:{url.port or 5432}".encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"inkwell-tests-{key}.{suffix}"


@contextmanager
def cluster_lock(server_url: str, *, exclusive: bool) -> Iterator[None]:
    """A readers-writer lock on the server (flock; released by the kernel if a worker dies).

    The turnstile makes it fair to the writer: once an exclusive test waits, no new shared
    holder gets in, so it waits only for the tests already running.
    """
    with (
        _lock_path(server_url, "gate").open("a") as gate,
        _lock_path(server_url, "lock").open("a") as lock,
    ):
        fcntl.flock(gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        finally:
            fcntl.flock(gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
