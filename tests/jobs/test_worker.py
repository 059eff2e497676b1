"""The worker on a real database: retries with backoff, dead letter, shared claims, periodic
jobs, metrics (both backends; the concurrent claim on PostgreSQL)."""

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlmodel.ext.asyncio.session import AsyncSession

from service import flows
from service.database.session import Database, own_transaction
from service.idempotency.models import IdempotencyKey
from service.jobs import metrics
from service.jobs.outbox import EVENTS, Event, Outbox
from service.jobs.worker import Handler, Registry, Worker, purge_done
from service.kit.model_base import utcnow
from service.settings import Settings
from service.users.models import User

TOPIC = "test.topic"


async def emit(db: Database, count: int = 1) -> list[int]:
    async with own_transaction(db.sessionmaker) as session:
        return await Outbox().emit(session, TOPIC, [{"n": i} for i in range(count)])


def worker(settings: Settings, db: Database, registry: Registry) -> Worker:
    return Worker(settings, registry, db.sessionmaker, db.read_sessionmaker)


async def run_until_settled(jobs: Worker, *, rounds: int = 50) -> None:
    """Run rounds until nothing is pending, waiting out the (tiny) backoff between them."""
    for _ in range(rounds):
        await jobs.drain()
        stats = await jobs.stats()
        if stats.queued == stats.running == 0:
            return
        await asyncio.sleep(0.03)
    pytest.fail("jobs never settled")


async def state_of(db: Database, event_id: int) -> tuple[str, int, str | None]:
    async with db.reader.connect() as connection:
        row = (
            await connection.execute(
                text("SELECT state, attempts, last_error FROM outbox_events WHERE id = :i"),
                {"i": event_id},
            )
        ).one()
    return str(row[0]), int(row[1]), row[2]


async def test_a_job_that_fails_twice_then_succeeds_is_delivered_once(
    jobs_settings: Settings, database: Database
) -> None:
    calls: list[int] = []

    async def flaky(session: AsyncSession, event: Event) -> None:
        calls.append(event.attempts)
        # the handler's write commits only with the successful attempt
        await (await session.connection()).execute(text("INSERT INTO tags (name) VALUES ('flaky')"))
        if event.attempts < 3:
            raise RuntimeError(f"attempt {event.attempts} fails")

    registry = Registry()
    registry.handle(TOPIC, flaky)
    (event_id,) = await emit(database)
    await run_until_settled(worker(jobs_settings, database, registry))
    assert calls == [1, 2, 3]
    assert await state_of(database, event_id) == ("done", 3, None)
    async with database.reader.connect() as connection:
        tags = await connection.scalar(text("SELECT count(*) FROM tags WHERE name = 'flaky'"))
    assert tags == 1  # the two failed attempts rolled their writes back


async def test_a_job_that_always_fails_is_dead_lettered_and_counted(
    jobs_settings: Settings, database: Database
) -> None:
    async def broken(session: AsyncSession, event: Event) -> None:
        raise ValueError("never works")

    registry = Registry()
    registry.handle(TOPIC, broken)
    jobs = worker(jobs_settings, database, registry)
    before = metrics.JOBS_DEAD_LETTERED.labels(TOPIC)._value.get()
    (event_id,) = await emit(database)
    await run_until_settled(jobs)
    state, attempts, error = await state_of(database, event_id)
    assert (state, attempts) == ("dead", jobs_settings.jobs_max_attempts)
    assert error == "ValueError: never works"
    assert metrics.JOBS_DEAD_LETTERED.labels(TOPIC)._value.get() == before + 1
    stats = await jobs.refresh_metrics()
    assert (stats.dead, stats.queued, stats.running) == (1, 0, 0)
    assert metrics.JOBS_DEAD._value.get() == 1
    await jobs.drain()  # a dead job is never retried automatically
    assert (await state_of(database, event_id))[1] == jobs_settings.jobs_max_attempts


async def test_a_batch_runs_in_one_transaction_and_a_failing_job_retries_alone(
    jobs_settings: Settings, database: Database
) -> None:
    """A claimed batch commits together; when one job fails, nothing of the batch is kept and
    each runs alone: the others are done once (their writes once), only the failing one retries."""
    runs: list[tuple[int, int]] = []

    async def one_fails_once(session: AsyncSession, event: Event) -> None:
        runs.append((event.id, event.attempts))
        tag = f"batch-{event.payload['n']}"
        await (await session.connection()).execute(
            text("INSERT INTO tags (name) VALUES (:tag)"), {"tag": tag}
        )
        if event.payload["n"] == 2 and event.attempts == 1:
            raise RuntimeError("the third job fails once")

    registry = Registry()
    registry.handle(TOPIC, one_fails_once)
    ids = await emit(database, 4)
    await run_until_settled(worker(jobs_settings, database, registry))
    assert [await state_of(database, i) for i in ids] == [
        ("done", 1, None),
        ("done", 1, None),
        ("done", 2, None),
        ("done", 1, None),
    ]
    # the batch up to the failure, then each alone, then the failed one's retry
    assert runs == [*((i, 1) for i in ids[:3]), *((i, 1) for i in ids), (ids[2], 2)]
    async with database.reader.connect() as connection:
        tags = await connection.execute(
            text("SELECT name, count(*) FROM tags WHERE name LIKE 'batch-%' GROUP BY name")
        )
        assert dict(tags.all()) == {f"batch-{n}": 1 for n in range(4)}


async def test_emit_returns_the_ids_in_the_order_of_the_payloads(database: Database) -> None:
    ids = await emit(database, 5)
    async with database.reader.connect() as connection:
        rows = await connection.execute(
            select(EVENTS.c.id, EVENTS.c.payload).where(EVENTS.c.id.in_(ids))
        )
        by_id = {event_id: payload["n"] for event_id, payload in rows}
    assert ids == sorted(ids)
    assert [by_id[event_id] for event_id in ids] == [0, 1, 2, 3, 4]


async def test_queue_metrics_report_the_oldest_pending_age(
    jobs_settings: Settings, database: Database
) -> None:
    jobs = worker(jobs_settings, database, Registry())
    ids = await emit(database, 3)
    async with own_transaction(database.sessionmaker) as session:
        old = utcnow() - timedelta(seconds=90)
        await (await session.connection()).execute(
            text("UPDATE outbox_events SET created_at = :t WHERE id = :i"),
            {"t": old.replace(tzinfo=None) if jobs_settings.is_sqlite else old, "i": min(ids)},
        )
    stats = await jobs.refresh_metrics()
    assert (stats.queued, stats.running, stats.dead) == (3, 0, 0)
    assert 89 <= stats.oldest_age_seconds < 120
    assert metrics.JOBS_OLDEST_AGE._value.get() == stats.oldest_age_seconds


@pytest.mark.postgres_only
async def test_workers_share_the_queue_and_run_each_job_once(
    jobs_settings: Settings, database: Database
) -> None:
    runs: Counter[int] = Counter()
    by_worker: Counter[str] = Counter()

    def handler_for(name: str) -> Handler:
        async def handler(session: AsyncSession, event: Event) -> None:
            runs[event.id] += 1
            by_worker[name] += 1
            await asyncio.sleep(0.005)

        return handler

    workers = []
    for name in ("a", "b", "c"):
        registry = Registry()
        registry.handle(TOPIC, handler_for(name))
        workers.append(
            worker(jobs_settings.model_copy(update={"jobs_batch_size": 3}), database, registry)
        )
    ids = await emit(database, 60)
    await asyncio.gather(*(w.drain() for w in workers))
    assert sorted(runs) == ids
    assert set(runs.values()) == {1}
    assert len(by_worker) >= 2, by_worker  # SKIP LOCKED let them work side by side


async def test_periodic_jobs_purge_old_done_events(
    jobs_settings: Settings, database: Database
) -> None:
    registry = Registry()

    async def done(session: AsyncSession, event: Event) -> None:
        return None

    registry.handle(TOPIC, done)

    async def retention(session: AsyncSession) -> int:
        return await purge_done(session, older_than_seconds=3600)

    registry.every_maintenance("outbox.retention", retention)
    jobs = worker(jobs_settings, database, registry)
    first, second = await emit(database, 2)
    await jobs.drain()
    old = utcnow() - timedelta(hours=2)
    async with own_transaction(database.sessionmaker) as session:
        await (await session.connection()).execute(
            text("UPDATE outbox_events SET created_at = :t WHERE id = :i"),
            {"t": old.replace(tzinfo=None) if jobs_settings.is_sqlite else old, "i": first},
        )
    assert await jobs.run_periodic() == {"outbox.retention": 1}
    async with database.reader.connect() as connection:
        left = (await connection.execute(text("SELECT id FROM outbox_events"))).scalars().all()
    assert list(left) == [second]
    (third,) = await emit(database)
    assert third > second  # ids never go back, even after a purge (SQLite AUTOINCREMENT)


async def test_the_service_schedules_the_idempotency_purge_and_the_outbox_retention(
    jobs_settings: Settings, database: Database
) -> None:
    """The application's own registry (service/flows.py), as the embedded worker and
    `make worker` run it: expired idempotency keys are purged, fresh ones kept."""
    settings = jobs_settings.model_copy(update={"idempotency_ttl_seconds": 3600})
    async with own_transaction(database.sessionmaker) as session:
        user = User(username="purge", email="purge@example.com", password_hash="x")
        session.add(user)
        await session.flush()
        assert user.id is not None
        old = utcnow() - timedelta(hours=2)
        for key, created in (("old", old), ("fresh", utcnow())):
            session.add(
                IdempotencyKey(user_id=user.id, key=key, fingerprint="f", created_at=created)
            )
    jobs = flows.worker(settings, database)
    assert await jobs.run_periodic() == {"idempotency.purge": 1, "outbox.retention": 0}
    async with database.reader.connect() as connection:
        keys = (await connection.execute(text("SELECT key FROM idempotency_keys"))).scalars()
        assert list(keys) == ["fresh"]
