"""The worker's hot statements name their states as constants, never as parameters: the server
plans a prepared statement once for any parameter (the service runs generic plans), and only a
constant lets that plan use the partial index of scheduled posts or the selectivity of pending
events; with a parameter each pass of the worker's loop read every post and every retained
event (docs/performance.md)."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from service.database.session import Database
from service.jobs.worker import Registry, Worker
from service.posts.scheduling import repository as scheduling
from service.settings import Settings


@contextmanager
def sent(*engines: AsyncEngine) -> Iterator[list[str]]:
    statements: list[str] = []

    def keep(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        statements.append(sql)

    unique = {id(e.sync_engine): e.sync_engine for e in engines}.values()
    for engine in unique:
        event.listen(engine, "before_cursor_execute", keep)
    try:
        yield statements
    finally:
        for engine in unique:
            event.remove(engine, "before_cursor_execute", keep)


async def test_the_due_scan_the_claim_and_the_gauges_name_their_states(
    jobs_settings: Settings, database: Database
) -> None:
    worker = Worker(jobs_settings, Registry(), database.sessionmaker, database.read_sessionmaker)
    with sent(database.primary, database.reader) as statements:
        async with database.sessionmaker() as session:
            await scheduling.earliest(session)
        await worker.leases.claim()
        await worker.stats()
    # The reader may share the primary's events (one engine, two option sets): once each.
    kinds = ("SELECT", "UPDATE")
    due_scan, claim, gauges = [s for s in dict.fromkeys(statements) if s.startswith(kinds)]
    assert "posts.status = 'scheduled'" in due_scan
    assert "outbox_events.state = 'pending'" in claim
    assert "outbox_events.state IN ('pending', 'dead')" in gauges
