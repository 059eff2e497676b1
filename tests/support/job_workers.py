"""Job worker processes for the tests: `python -m service.worker` (what `make worker` runs), or
this module's test app, the same loop with one slow job registered the normal way.

The slow job (topic `test.slow`) writes "start <event id> <attempt> <pid>" to `SLOW_JOBS_LOG`
when it starts, sleeps `first_attempt_seconds` on its first attempt only, then inserts the tag
`slow-<event id>-<pid>`, which commits with the event's "done" mark."""

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from service.database.session import Database
from service.jobs.outbox import Event
from service.jobs.worker import Registry, Worker
from service.settings import Settings
from tests.support.paths import ROOT
from tests.support.settings import TEST_JWT_SECRET

SLOW_TOPIC = "test.slow"
STARTED = "job worker started"
"""What service/worker.py logs once its loop runs."""


def _note_start(event: Event) -> None:
    with Path(os.environ["SLOW_JOBS_LOG"]).open("a") as log:
        log.write(f"start {event.id} {event.attempts} {os.getpid()}\n")


async def slow_job(session: AsyncSession, event: Event) -> None:
    _note_start(event)
    if event.attempts == 1:
        await asyncio.sleep(float(event.payload["first_attempt_seconds"]))
    await (await session.connection()).execute(
        text("INSERT INTO tags (name) VALUES (:name)"), {"name": f"slow-{event.id}-{os.getpid()}"}
    )


def slow_worker(settings: Settings, db: Database, wake_sender: Callable[[], None]) -> Worker:
    del wake_sender  # the test app sends no webhooks
    registry = Registry()
    registry.handle(SLOW_TOPIC, slow_job)
    return Worker(settings, registry, db.sessionmaker, db.read_sessionmaker)


def started_jobs(log: Path) -> list[tuple[int, int, int]]:
    """(event id, attempt, pid) of each start of the slow job, in order."""
    if not log.exists():
        return []
    lines = [line.split() for line in log.read_text().splitlines()]
    return [(int(event), int(attempt), int(pid)) for _, event, attempt, pid in lines]


@dataclass
class WorkerProcess:
    process: asyncio.subprocess.Process
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@asynccontextmanager
async def running_worker(
    database_url: str,
    log: Path,
    *,
    module: str = "service.worker",
    env: dict[str, str] | None = None,
) -> AsyncIterator[WorkerProcess]:
    """A worker process on `database_url`, ready (its loop started); SIGTERM at exit."""
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    environment |= {"DATABASE_URL": database_url, "ENVIRONMENT": "test"}
    environment |= {"JWT_SECRET": TEST_JWT_SECRET, "PYTHONUNBUFFERED": "1"} | (env or {})
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", module),
            cwd=ROOT,
            env=environment,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
    worker = WorkerProcess(process, log)
    try:
        deadline = time.monotonic() + 60
        while STARTED not in worker.output():
            if process.returncode is not None or time.monotonic() > deadline:
                pytest.fail(f"worker {module} did not start:\n{worker.output()}")
            await asyncio.sleep(0.05)
        yield worker
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()


if __name__ == "__main__":
    from service.worker import main

    asyncio.run(main(slow_worker))
