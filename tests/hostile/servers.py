"""The real service process of the hostile-input tests, on either backend."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.ops.servers import (
    Service,
    postgres_service_database,
    running_service,
)
from tests.support.migrations import migrated_database


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


def rss_bytes(pid: int) -> int:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def open_sockets(pid: int) -> int:
    """How many sockets a process holds open, from /proc (Linux)."""
    count = 0
    folder = Path(f"/proc/{pid}/fd")
    for fd in folder.iterdir():
        try:
            count += fd.readlink().name.startswith("socket:")
        except FileNotFoundError:
            continue  # closed while we looked
    return count
