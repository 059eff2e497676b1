"""Issue 27 on the default settings, with real worker processes: a job whose worker is SIGKILLed
mid-job finishes on another worker within 5 s of the kill, and while its worker lives, a job
longer than its lease is never taken over (both backends).

Figures: `.venv/bin/pytest tests/ops/test_worker_crash.py -s -p no:cacheprovider --no-cov`
prints the time from the kill to the job's "done" on the other worker."""

import asyncio
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from service.database.session import Database, own_transaction
from service.jobs.outbox import Outbox
from service.jobs.settings import JobsSettings
from tests.support.job_workers import SLOW_TOPIC, running_worker, started_jobs
from tests.support.settings import make_settings

RECOVERY_SECONDS = 5.0
"""What the issue asks for, measured from the kill."""
LEASE_SECONDS = JobsSettings.model_fields["jobs_lease_seconds"].default
TEST_APP = "tests.support.job_workers"


@pytest.mark.slow("starts two worker processes (~4 s of imports each on a busy machine)")
async def test_a_sigkilled_workers_job_finishes_on_another_worker_within_5_s(
    service_db: str, tmp_path: Path, backend: str
) -> None:
    jobs_log = tmp_path / "jobs.log"
    env = {"SLOW_JOBS_LOG": str(jobs_log)}
    db = Database.from_settings(make_settings(service_db))
    try:
        async with running_worker(service_db, tmp_path / "a.log", module=TEST_APP, env=env) as a:
            async with own_transaction(db.sessionmaker) as session:
                (event,) = await Outbox().emit(
                    session, SLOW_TOPIC, [{"first_attempt_seconds": 600}]
                )
            deadline = time.monotonic() + 20
            while not started_jobs(jobs_log):
                assert time.monotonic() < deadline, "the first worker never started the job"
                await asyncio.sleep(0.05)
            async with running_worker(
                service_db, tmp_path / "b.log", module=TEST_APP, env=env
            ) as b:
                # The first worker lives: its job, by now longer than two leases, stays its own.
                await asyncio.sleep(2 * LEASE_SECONDS)
                assert started_jobs(jobs_log) == [(event, 1, a.pid)]
                a.process.kill()
                killed = time.monotonic()
                await a.process.wait()
                state = ""
                while state != "done" and time.monotonic() < killed + RECOVERY_SECONDS:
                    await asyncio.sleep(0.05)
                    async with db.reader.connect() as connection:
                        state = await connection.scalar(
                            text("SELECT state FROM outbox_events WHERE id = :i"), {"i": event}
                        )
                recovered = time.monotonic() - killed
                sys.stdout.write(
                    f"\nworker crash [{backend}]: job done on the other worker {recovered:.2f} s"
                    f" after the SIGKILL (lease {LEASE_SECONDS} s, defaults)\n"
                )
                assert state == "done", f"not done {RECOVERY_SECONDS} s after the kill"
                assert started_jobs(jobs_log) == [(event, 1, a.pid), (event, 2, b.pid)]
                async with db.reader.connect() as connection:
                    tags = await connection.scalars(text("SELECT name FROM tags"))
                    assert list(tags) == [f"slow-{event}-{b.pid}"]  # the killed run left none
    finally:
        await db.dispose()
