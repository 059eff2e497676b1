"""The transactional outbox: events written in the caller's transaction, read back in order.

Invariant: event ids become visible in id order (PostgreSQL: a transaction-scoped advisory lock
before ids are allocated; SQLite: one writer; AUTOINCREMENT: no reuse), so a reader of `id > n`
that sees `m` knows every event below `m` is final (docs/operations.md)."""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Table, bindparam, func, insert, literal, literal_column, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.database.after_commit import after_commit
from service.jobs.models import EventState, OutboxEvent
from service.kit.model_base import utcnow
from service.kit.state import StateSlot

CHANNEL = "inkwell_outbox"
"""PostgreSQL NOTIFY channel: "the outbox has new events" (no payload; readers re-read)."""
ORDER_LOCK = 0x496E6B77  # "Inkw": the advisory lock that keeps ids in commit order

EVENTS: Table = OutboxEvent.__table__  # type: ignore[attr-defined]

_ORDERED = select(
    func.pg_advisory_xact_lock(literal_column(str(ORDER_LOCK))),
    func.pg_notify(literal_column(f"'{CHANNEL}'"), literal_column("''")),
)
"""PostgreSQL: take the order lock before any id is allocated; NOTIFY (sent at commit)."""

_ONE_ORDERED_EVENT = (
    insert(EVENTS)
    .from_select(
        ["topic", "payload", "state", "attempts", "run_after", "created_at"],
        select(
            bindparam("topic", type_=EVENTS.c.topic.type),
            bindparam("payload", type_=EVENTS.c.payload.type),
            literal(EventState.pending.value, EVENTS.c.state.type),
            literal(0),
            bindparam("now", type_=EVENTS.c.created_at.type),
            bindparam("now", type_=EVENTS.c.created_at.type),
        ).select_from(_ORDERED.subquery("ordered")),
    )
    .returning(EVENTS.c.id)
)
"""One event in one statement: its row is built from the subquery that took the lock (a
subquery with volatile functions is never flattened), so the id comes after the lock."""


@dataclass(frozen=True)
class Event:
    id: int
    topic: str
    payload: Mapping[str, Any]
    created_at: datetime
    attempts: int = 0


class Outbox:
    """One per process (`OUTBOX`): writes events and wakes the local consumers after commit."""

    def __init__(self) -> None:
        self._wakers: list[Callable[[], None]] = []

    def on_commit(self, waker: Callable[[], None]) -> None:
        """`waker` is called (synchronously) after a transaction that emitted events commits."""
        self._wakers.append(waker)

    def wake(self) -> None:
        for waker in self._wakers:
            waker()

    async def emit(
        self, session: AsyncSession, topic: str, payloads: Sequence[Mapping[str, Any]]
    ) -> list[int]:
        """Write one event per payload in `session`'s transaction; returns their ids, in the
        payloads' order."""
        if not payloads:
            return []
        connection = await session.connection()
        postgres = connection.dialect.name == "postgresql"
        now = utcnow()
        after_commit(session, self.wake)
        if postgres and len(payloads) == 1:
            # The common case in one round trip: the order lock and the NOTIFY, then the row.
            values = {"topic": topic, "payload": dict(payloads[0]), "now": now}
            return [int((await connection.execute(_ONE_ORDERED_EVENT, values)).scalar_one())]
        if postgres:
            await connection.execute(_ORDERED)
        rows = [
            {
                "topic": topic,
                "payload": dict(payload),
                "state": EventState.pending.value,
                "attempts": 0,
                "run_after": now,
                "created_at": now,
            }
            for payload in payloads
        ]
        # One multi-row INSERT for up to 1000 payloads on both backends (SQLAlchemy's
        # insertmanyvalues). Not `sort_by_parameter_order=True`: SQLite would then run one
        # INSERT per row. The ids follow the payloads anyway: one statement allocates them in
        # row order (PostgreSQL's sequence, SQLite's AUTOINCREMENT), and the order lock (or
        # SQLite's one writer) keeps any other emitter out; only RETURNING's order is not
        # promised, so the ids are sorted.
        statement = insert(EVENTS).returning(EVENTS.c.id)
        return sorted(int(i) for i in (await connection.execute(statement, rows)).scalars())


OUTBOX: StateSlot[Outbox] = StateSlot("outbox")


async def get_outbox(request: Request) -> Outbox:
    return OUTBOX.of(request)


OutboxDep = Annotated[Outbox, Depends(get_outbox)]
"""The application's outbox, for a route whose service writes events."""


async def events_after(session: AsyncSession, after: int, topic: str, limit: int) -> list[Event]:
    """Committed events of `topic` with ids above `after`, oldest first."""
    statement = (
        select(EVENTS.c.id, EVENTS.c.topic, EVENTS.c.payload, EVENTS.c.created_at)
        .where(EVENTS.c.id > after, EVENTS.c.topic == topic)
        .order_by(EVENTS.c.id)
        .limit(limit)
    )
    rows = (await (await session.connection()).execute(statement)).mappings()
    return [Event(r["id"], r["topic"], r["payload"], r["created_at"]) for r in rows]


async def id_bounds(session: AsyncSession) -> tuple[int, int]:
    """(oldest retained id, newest id); (0, 0) when the outbox is empty."""
    statement = select(func.min(EVENTS.c.id), func.max(EVENTS.c.id))
    oldest, newest = (await (await session.connection()).execute(statement)).one()
    return int(oldest or 0), int(newest or 0)
