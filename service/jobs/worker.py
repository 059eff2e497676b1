"""The worker: claims due events, runs their topic's handlers, retries, dead-letters.

At-least-once: a claim is a short lease that a heartbeat renews while the worker runs the event
(service/jobs/leases.py), and a handler's writes commit with the event's "done" mark, so a
killed worker's event runs again seconds later: handlers must be idempotent
(docs/operations.md)."""

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.database.engines import AsyncReadSession
from service.database.session import own_transaction
from service.jobs import metrics
from service.jobs.leases import Leases
from service.jobs.models import EventState
from service.jobs.outbox import EVENTS, Event
from service.jobs.settings import JobsSettings
from service.jobs.timed import NextDue, Round, RunDue, Timed, run_due, sleep_seconds
from service.kit.db.dialects import constant
from service.kit.model_base import utcnow
from service.kit.state import StateSlot
from service.kit.tasks import cancel_and_wait

log = logging.getLogger("inkwell.jobs")

Handler = Callable[[AsyncSession, Event], Awaitable[None]]
Periodic = Callable[[AsyncSession], Awaitable[int]]


@dataclass
class Registry:
    """Which handlers run for which topic, and the periodic jobs (filled by service/flows.py)."""

    handlers: dict[str, list[Handler]] = field(default_factory=dict)
    periodic: list[tuple[str, Periodic]] = field(default_factory=list)
    timed: list[Timed] = field(default_factory=list)

    def handle(self, topic: str, handler: Handler) -> None:
        self.handlers.setdefault(topic, []).append(handler)

    def every_maintenance(self, name: str, job: Periodic) -> None:
        self.periodic.append((name, job))

    def at_due_times(self, name: str, next_due: NextDue, run: RunDue) -> None:
        """A job run when a time stored in the data comes (service/jobs/timed.py)."""
        self.timed.append(Timed(name, next_due, run))


@dataclass(frozen=True)
class QueueStats:
    queued: int
    running: int
    dead: int
    oldest_age_seconds: float


class Worker:
    def __init__(
        self,
        settings: JobsSettings,
        registry: Registry,
        sessionmaker: async_sessionmaker[AsyncSession],
        read_sessionmaker: async_sessionmaker[AsyncReadSession],
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.sessionmaker = sessionmaker
        self.read_sessionmaker = read_sessionmaker
        self.leases = Leases(settings, sessionmaker)
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def wake(self) -> None:
        self._wake.set()

    def start(self, *, run_jobs: bool = True) -> None:
        """Run jobs and periodic work (`run_jobs`), or only refresh the gauges."""
        self._tasks = [asyncio.create_task(self._refresh_forever(), name="jobs-metrics")]
        if run_jobs:
            self._tasks += [
                asyncio.create_task(self._work_forever(), name="jobs-worker"),
                asyncio.create_task(self._maintain_forever(), name="jobs-maintenance"),
            ]

    async def stop(self) -> None:
        await cancel_and_wait(*self._tasks)
        self._tasks = []

    async def run_once(self) -> int:
        """Claim one batch of due events and run them; returns how many were claimed."""
        if not await self._anything_due():
            return 0
        events = await self.leases.claim()
        async with self.leases.holding(events):
            if len(events) > 1 and await self._run_together(events):
                for event in events:
                    self.leases.finished(event.id)
                return len(events)
            for event in events:
                await self._run(event)
                self.leases.finished(event.id)
        return len(events)

    async def run_due_times(self) -> Round:
        """The due-time jobs whose time has come (service/jobs/timed.py), once."""
        return await run_due(self.registry.timed, self.sessionmaker, self.read_sessionmaker)

    async def drain(self, max_seconds: float = 10.0) -> int:
        """Run jobs until none is due or running anywhere (tests, tools); returns how many this
        worker ran. Jobs waiting for a retry later than now are left alone."""
        total = 0
        async with asyncio.timeout(max_seconds):
            while True:
                claimed = await self.run_once()
                total += claimed
                if not claimed:
                    if not await self._anything_due(include_running=True):
                        return total
                    await asyncio.sleep(0.02)  # another worker holds it: wait for its outcome

    async def _anything_due(self, *, include_running: bool = False) -> bool:
        """A cheap read first: an idle worker never takes SQLite's write lock."""
        now = self.leases.now()  # one reading for both tests
        condition = self.leases.due(now)
        if include_running:
            condition = or_(condition, self.leases.running(now))
        async with self.read_sessionmaker() as session:
            connection = await session.connection()
            found = await connection.execute(select(EVENTS.c.id).where(condition).limit(1))
            return found.first() is not None

    async def _handle(self, session: AsyncSession, events: Sequence[Event]) -> None:
        """Each event's handlers, then the events marked done, in the session's transaction."""
        for event in events:
            for handler in self.registry.handlers.get(event.topic, []):
                await handler(session, event)
        await (await session.connection()).execute(
            update(EVENTS)
            .where(EVENTS.c.id.in_([event.id for event in events]))
            .values(state=EventState.done.value, finished_at=utcnow())
            .values(locked_until=None, last_error=None)
        )

    async def _run_together(self, events: Sequence[Event]) -> bool:
        """The batch in one transaction (one BEGIN, one UPDATE, one COMMIT for all); False, and
        nothing kept, when a handler fails: each event then runs alone, so only it retries."""
        try:
            async with own_transaction(self.sessionmaker) as session:
                await self._handle(session, events)
        except Exception:
            log.info("a job of the batch failed; running them one by one")
            return False
        for event in events:
            metrics.JOBS_COMPLETED.labels(event.topic).inc()
        return True

    async def _run(self, event: Event) -> None:
        try:
            async with own_transaction(self.sessionmaker) as session:
                await self._handle(session, [event])
        except Exception as error:
            await self._failed(event, error)
        else:
            metrics.JOBS_COMPLETED.labels(event.topic).inc()

    async def _failed(self, event: Event, error: Exception) -> None:
        dead = event.attempts >= self.settings.jobs_max_attempts
        base, cap = self.settings.jobs_backoff_seconds, self.settings.jobs_backoff_max_seconds
        delay = min(cap, base * 2 ** (event.attempts - 1)) * random.uniform(0.75, 1.0)
        now = utcnow()
        metrics.JOBS_FAILED_ATTEMPTS.labels(event.topic).inc()
        log.log(
            logging.ERROR if dead else logging.WARNING,
            "job dead-lettered" if dead else "job failed; will retry",
            exc_info=error,
            extra={"event_id": event.id, "topic": event.topic, "attempts": event.attempts},
        )
        values = {
            "state": (EventState.dead if dead else EventState.pending).value,
            "run_after": now + timedelta(seconds=delay),
            "locked_until": None,
            "last_error": f"{type(error).__name__}: {error}"[:2000],
            "finished_at": now if dead else None,
        }
        try:
            async with own_transaction(self.sessionmaker) as session:
                await (await session.connection()).execute(
                    update(EVENTS).where(EVENTS.c.id == event.id).values(values)
                )
        except Exception:
            # The database is away: the lease expires and the event is claimed again.
            log.warning("could not record a job failure", extra={"event_id": event.id})
            return
        if dead:
            metrics.JOBS_DEAD_LETTERED.labels(event.topic).inc()

    async def _work_forever(self) -> None:
        poll = self.settings.jobs_poll_seconds
        while True:
            timed = Round(0, None)
            try:
                claimed = await self.run_once()
                timed = await self.run_due_times()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("job claim failed; retrying", extra={"error": type(error).__name__})
                claimed = 0
            if not (claimed or timed.done):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), sleep_seconds(timed, poll))
                self._wake.clear()

    async def run_periodic(self) -> dict[str, int]:
        """Every periodic job once, each in its own transaction; returns rows affected."""
        done: dict[str, int] = {}
        for name, job in self.registry.periodic:
            try:
                async with own_transaction(self.sessionmaker) as session:
                    done[name] = await job(session)
            except Exception:
                metrics.JOBS_PERIODIC_RUNS.labels(name, "failed").inc()
                log.exception("periodic job failed", extra={"job": name})
            else:
                metrics.JOBS_PERIODIC_RUNS.labels(name, "ok").inc()
        return done

    async def _maintain_forever(self) -> None:
        # Every instance runs them; they are idempotent deletes. Jitter spreads the instances.
        interval = self.settings.jobs_maintenance_seconds
        while True:
            await asyncio.sleep(interval * random.uniform(0.5, 1.0))
            await self.run_periodic()

    async def stats(self) -> QueueStats:
        now = utcnow()
        leased = and_(
            EVENTS.c.locked_until.is_not(None), EVENTS.c.locked_until >= self.leases.now()
        )
        pending_state = constant(EventState.pending.value)
        dead_state = constant(EventState.dead.value)
        waiting = EVENTS.c.state == pending_state
        statement = select(
            func.count().filter(and_(waiting, ~leased)),
            func.count().filter(and_(waiting, leased)),
            func.count().filter(EVENTS.c.state == dead_state),
            func.min(EVENTS.c.created_at).filter(waiting),
        ).where(EVENTS.c.state.in_([pending_state, dead_state]))  # an index scan, not the outbox
        async with self.read_sessionmaker() as session:
            queued, running, dead, oldest = (
                await (await session.connection()).execute(statement)
            ).one()
        if oldest is not None and oldest.tzinfo is None:  # SQLite: aggregate loses the type
            oldest = oldest.replace(tzinfo=now.tzinfo)
        age = (now - oldest).total_seconds() if oldest is not None else 0.0
        return QueueStats(int(queued), int(running), int(dead), max(0.0, age))

    async def refresh_metrics(self) -> QueueStats:
        stats = await self.stats()
        metrics.JOBS_QUEUED.set(stats.queued)
        metrics.JOBS_RUNNING.set(stats.running)
        metrics.JOBS_DEAD.set(stats.dead)
        metrics.JOBS_OLDEST_AGE.set(stats.oldest_age_seconds)
        return stats

    async def _refresh_forever(self) -> None:
        while True:
            with contextlib.suppress(Exception):
                await self.refresh_metrics()
            await asyncio.sleep(5.0)


async def purge_done(session: AsyncSession, *, older_than_seconds: int) -> int:
    """Outbox retention: delete events done longer ago than the retention (dead ones stay)."""
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    statement = delete(EVENTS).where(
        EVENTS.c.state == EventState.done.value, EVENTS.c.created_at < cutoff
    )
    return int((await (await session.connection()).execute(statement)).rowcount)


JOBS: StateSlot[Worker] = StateSlot("jobs")
"""The application's worker (set by `create_app`; it only refreshes gauges when not embedded)."""
