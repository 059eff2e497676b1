"""Claims on due events as short leases, renewed by a heartbeat while their worker runs them
(issue 27): a dead worker's events run again seconds later, a live worker's long job never.

Lease times are the database's clock on PostgreSQL (workers on several hosts compare one
clock); SQLite's workers share one host, so there they are the process's."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Interval, and_, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.database.session import own_transaction
from service.jobs.models import EventState
from service.jobs.outbox import EVENTS, Event
from service.jobs.settings import JobsSettings
from service.kit.db.dialects import constant
from service.kit.model_base import UTCDateTime, utcnow
from service.kit.tasks import cancel_and_wait

log = logging.getLogger("inkwell.jobs")

HEARTBEATS_PER_LEASE = 4
"""A lease outlives three missed (or late) heartbeats in a row."""

PENDING = constant(EventState.pending.value)
"""A constant, not a parameter: the claim and the due test use the partial index of pending
events (a generic plan with a parameter walks every retained event)."""


class Leases:
    """One worker's claims: taken in batches, renewed while held, given back on a stop."""

    def __init__(
        self, settings: JobsSettings, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.held: set[int] = set()
        """Claimed by this worker and not finished yet: what the heartbeat renews."""

    def now(self) -> ColumnElement[datetime]:
        if self.settings.is_sqlite:
            return literal(utcnow(), UTCDateTime())
        return func.statement_timestamp(type_=UTCDateTime())

    def _until(self) -> ColumnElement[datetime]:
        lease = timedelta(seconds=self.settings.jobs_lease_seconds)
        if self.settings.is_sqlite:
            return literal(utcnow() + lease, UTCDateTime())
        return func.statement_timestamp(type_=UTCDateTime()) + literal(lease, Interval())

    def due(self, now: ColumnElement[datetime] | None = None) -> ColumnElement[bool]:
        """`now`: the one clock reading of a statement that also asks `running` (on SQLite two
        readings could leave an event whose lease ends between them neither due nor running)."""
        now = self.now() if now is None else now
        return and_(
            EVENTS.c.state == PENDING,
            EVENTS.c.run_after <= now,
            or_(EVENTS.c.locked_until.is_(None), EVENTS.c.locked_until < now),
        )

    def running(self, now: ColumnElement[datetime] | None = None) -> ColumnElement[bool]:
        """Pending under a live lease: a worker is running it."""
        now = self.now() if now is None else now
        return and_(EVENTS.c.state == PENDING, EVENTS.c.locked_until >= now)

    async def claim(self) -> list[Event]:
        """Lease up to `JOBS_BATCH_SIZE` due events (`FOR UPDATE SKIP LOCKED` on PostgreSQL;
        SQLite's claim holds its one write lock), counting an attempt on each."""
        due = (
            select(EVENTS.c.id)
            .where(self.due())
            .order_by(EVENTS.c.id)
            .limit(self.settings.jobs_batch_size)
            .with_for_update(skip_locked=True)
        )
        statement = (
            update(EVENTS)
            .where(EVENTS.c.id.in_(due))
            .values(attempts=EVENTS.c.attempts + 1, locked_until=self._until())
            .returning(
                EVENTS.c.id,
                EVENTS.c.topic,
                EVENTS.c.payload,
                EVENTS.c.created_at,
                EVENTS.c.attempts,
            )
        )
        async with own_transaction(self.sessionmaker) as session:
            rows = (await (await session.connection()).execute(statement)).mappings().all()
        events = [
            Event(r["id"], r["topic"], r["payload"], r["created_at"], r["attempts"]) for r in rows
        ]
        return sorted(events, key=lambda e: e.id)

    @contextlib.asynccontextmanager
    async def holding(self, events: Sequence[Event]) -> AsyncIterator[None]:
        """Renew the leases of `events` until each is `finished`; a worker stopped meanwhile
        gives the rest back."""
        if not events:
            yield
            return
        self.held.update(event.id for event in events)
        beat = asyncio.create_task(self._beat_forever(), name="jobs-heartbeat")
        try:
            yield
        finally:
            await cancel_and_wait(beat)
            if self.held:
                await self.release()

    def finished(self, event_id: int) -> None:
        """Its outcome (done, retry later, dead) is committed: renew it no more."""
        self.held.discard(event_id)

    async def renew(self) -> int:
        """Push the held leases `JOBS_LEASE_SECONDS` ahead; returns how many were renewed."""
        if not self.held:
            return 0
        statement = (
            update(EVENTS)
            .where(
                EVENTS.c.id.in_(sorted(self.held)),
                EVENTS.c.state == PENDING,
                EVENTS.c.locked_until.is_not(None),
            )
            .values(locked_until=self._until())
        )
        async with own_transaction(self.sessionmaker) as session:
            return int((await (await session.connection()).execute(statement)).rowcount)

    async def release(self) -> None:
        """Give back what was held, the cut attempt uncounted, so that another worker runs it at
        once (best effort: otherwise the leases expire)."""
        ids, self.held = sorted(self.held), set()
        statement = (
            update(EVENTS)
            .where(
                EVENTS.c.id.in_(ids),
                EVENTS.c.state == PENDING,
                EVENTS.c.locked_until.is_not(None),
            )
            .values(locked_until=None, attempts=EVENTS.c.attempts - 1)
        )
        try:
            async with (
                asyncio.timeout(self.settings.jobs_lease_seconds),
                own_transaction(self.sessionmaker) as session,
            ):
                await (await session.connection()).execute(statement)
        except Exception:
            log.warning("could not give job leases back; they expire", extra={"events": ids})

    async def _beat_forever(self) -> None:
        interval = self.settings.jobs_lease_seconds / HEARTBEATS_PER_LEASE
        while True:
            await asyncio.sleep(interval)
            try:
                async with asyncio.timeout(self.settings.jobs_lease_seconds):
                    await self.renew()
            except Exception as error:
                log.warning("could not renew job leases", extra={"error": type(error).__name__})
