"""Jobs that run at times stored in the data (a scheduled post's `publish_at`).

Each round of the worker loop reads every such job's earliest due time (one indexed read); a
job whose time has come runs in a transaction of its own, and the loop then sleeps until the
earliest time still ahead or one poll interval, whichever is sooner. A time known before the
sleep is met at once; one written during it waits at most one poll (`JOBS_POLL_SECONDS`)."""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.database.engines import AsyncReadSession
from service.database.session import own_transaction
from service.kit.model_base import utcnow

NextDue = Callable[[AsyncSession], Awaitable[datetime | None]]
RunDue = Callable[[AsyncSession], Awaitable[int]]


@dataclass(frozen=True)
class Timed:
    """`next_due` reads when the job is next due; `run` does what is due (rows affected)."""

    name: str
    next_due: NextDue
    run: RunDue


@dataclass(frozen=True)
class Round:
    done: int
    """Rows the jobs that were due affected."""
    ahead: datetime | None
    """The earliest due time still in the future (None: none known)."""


async def run_due(
    jobs: Sequence[Timed],
    sessionmaker: async_sessionmaker[AsyncSession],
    read_sessionmaker: async_sessionmaker[AsyncReadSession],
) -> Round:
    """One round: read each job's due time (never taking SQLite's write lock when nothing is
    due), run those whose time has come."""
    done, ahead = 0, None
    for job in jobs:
        async with read_sessionmaker() as session:
            due = await job.next_due(session)
        if due is None:
            continue
        if due <= utcnow():
            async with own_transaction(sessionmaker) as session:
                done += await job.run(session)
        elif ahead is None or due < ahead:
            ahead = due
    return Round(done, ahead)


def sleep_seconds(round_: Round, poll: float) -> float:
    """How long an idle worker waits: until the next due time, at most one poll."""
    if round_.ahead is None:
        return poll
    return max(0.0, min(poll, (round_.ahead - utcnow()).total_seconds()))
