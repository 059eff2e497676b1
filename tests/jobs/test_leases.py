"""Leases on the default settings (issue 27): renewed while their worker runs a long job, given
back when it stops, expired soon after it died (both backends; worker processes SIGKILLed in
tests/ops/test_worker_crash.py)."""

import asyncio

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from service.database.session import Database, own_transaction
from service.jobs.outbox import Event, Outbox
from service.jobs.settings import JobsSettings
from service.jobs.worker import Registry, Worker
from service.settings import Settings

TOPIC = "test.leases"
LEASE_SECONDS = JobsSettings.model_fields["jobs_lease_seconds"].default


async def emit(db: Database, count: int = 1) -> list[int]:
    async with own_transaction(db.sessionmaker) as session:
        return await Outbox().emit(session, TOPIC, [{"n": i} for i in range(count)])


def worker_running(
    settings: Settings,
    db: Database,
    runs: list[tuple[str, int]],
    name: str,
    *,
    started: asyncio.Event | None = None,
    hold: asyncio.Event | None = None,
) -> Worker:
    """A worker whose handler notes (name, event id), sets `started`, then waits for `hold`."""

    async def handler(session: AsyncSession, event: Event) -> None:
        runs.append((name, event.id))
        if started is not None:
            started.set()
        if hold is not None:
            await hold.wait()

    registry = Registry()
    registry.handle(TOPIC, handler)
    return Worker(settings, registry, db.sessionmaker, db.read_sessionmaker)


async def attempts_and_lease(db: Database, event_id: int) -> tuple[str, int, bool]:
    async with db.reader.connect() as connection:
        row = (
            await connection.execute(
                text("SELECT state, attempts, locked_until FROM outbox_events WHERE id = :i"),
                {"i": event_id},
            )
        ).one()
    return str(row[0]), int(row[1]), row[2] is not None


async def test_a_live_workers_job_longer_than_its_lease_is_not_taken_over(
    jobs_settings: Settings, database: Database
) -> None:
    runs: list[tuple[str, int]] = []
    started, release = asyncio.Event(), asyncio.Event()
    owner = worker_running(jobs_settings, database, runs, "owner", started=started, hold=release)
    other = worker_running(jobs_settings, database, runs, "other")
    (event_id,) = await emit(database)
    running = asyncio.create_task(owner.run_once())
    await started.wait()
    loop = asyncio.get_running_loop()
    until = loop.time() + 3 * LEASE_SECONDS
    while loop.time() < until:  # the other worker keeps looking, three leases long
        assert await other.run_once() == 0
        await asyncio.sleep(0.1)
    release.set()
    assert await running == 1
    assert runs == [("owner", event_id)]
    assert await attempts_and_lease(database, event_id) == ("done", 1, False)


async def test_a_stopped_worker_gives_its_claims_back_at_once(
    jobs_settings: Settings, database: Database
) -> None:
    runs: list[tuple[str, int]] = []
    started = asyncio.Event()
    stopping = worker_running(
        jobs_settings, database, runs, "stopping", started=started, hold=asyncio.Event()
    )
    first, second = await emit(database, 2)
    stopping.start()
    await started.wait()
    await stopping.stop()  # mid-job: the job rolls back, both claims are given back
    assert await attempts_and_lease(database, first) == ("pending", 0, False)
    assert await attempts_and_lease(database, second) == ("pending", 0, False)
    other = worker_running(jobs_settings, database, runs, "other")
    assert await other.run_once() == 2  # no lease to wait for
    assert runs == [("stopping", first), ("other", first), ("other", second)]


async def test_a_claim_no_heartbeat_renews_runs_again_after_one_lease(
    jobs_settings: Settings, database: Database
) -> None:
    """A worker that died right after its claim: its event is due again once the lease ends."""
    runs: list[tuple[str, int]] = []
    dead = worker_running(jobs_settings, database, runs, "dead")
    (event_id,) = await emit(database)
    assert [event.id for event in await dead.leases.claim()] == [event_id]
    survivor = worker_running(jobs_settings, database, runs, "survivor")
    assert await survivor.run_once() == 0  # leased
    assert await survivor.drain(max_seconds=3 * LEASE_SECONDS) == 1
    assert runs == [("survivor", event_id)]
    assert await attempts_and_lease(database, event_id) == ("done", 2, False)
