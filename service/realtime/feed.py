"""The feed is the outbox, read in event order: `post.published` events become frames.

`FeedTail` reads the events above the last one it published whenever woken (local commit,
NOTIFY, reconnect, every `REALTIME_POLL_SECONDS`); ids become visible in id order
(`service/jobs/outbox.py`), so `id > last` never skips one. `replay` serves `?after=`."""

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.jobs.outbox import Event, events_after, id_bounds
from service.kit.tasks import cancel_and_wait
from service.posts import service as posts
from service.posts.events import POST_PUBLISHED, PostPublished
from service.realtime.hub import Frame, Hub

log = logging.getLogger("inkwell.realtime")

PAGE = 200
BATCH_SECONDS = 0.025
"""After a wake, the tail waits this long so that the events committed meanwhile are read by
one query, not one each (a frame is at most this much later)."""
GAP = json.dumps({"type": "gap"})
"""Sent instead of events that can no longer be replayed (purged, or an id never issued)."""


async def frames(session: AsyncSession, events: list[Event]) -> list[Frame]:
    """The frames of `events` (one query for the posts); posts no longer published are skipped."""
    post_ids = {PostPublished.from_payload(e.payload).post_id: e.id for e in events}
    shown = {post.id: post for post in await posts.read_published(session, list(post_ids))}
    result = []
    for event in events:
        post = shown.get(int(event.payload["post_id"]))
        if post is not None:
            body = post.model_dump_json(by_alias=True)
            text = f'{{"event_id":{event.id},"type":"{POST_PUBLISHED}","post":{body}}}'
            result.append(Frame(event.id, text))
    return result


async def replay(
    sessionmaker: async_sessionmaker[AsyncSession], after: int
) -> AsyncIterator[Frame]:
    """Every frame after event `after`, oldest first; a `gap` frame (event_id -1) first when
    events after it are gone or `after` was never issued."""
    async with sessionmaker() as session:
        oldest, newest = await id_bounds(session)
    if after > newest or (oldest and after + 1 < oldest):
        yield Frame(-1, GAP)
        after = min(after, newest)
    while True:
        async with sessionmaker() as session:
            events = await events_after(session, after, POST_PUBLISHED, PAGE)
            batch = await frames(session, events)
        for frame in batch:
            yield frame
        if len(events) < PAGE:
            return
        after = events[-1].id


class FeedTail:
    def __init__(
        self, hub: Hub, sessionmaker: async_sessionmaker[AsyncSession], poll_seconds: float
    ) -> None:
        self.hub = hub
        self.sessionmaker = sessionmaker
        self.poll_seconds = poll_seconds
        self.last_id: int | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._follow_forever(), name="realtime-tail")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def catch_up(self) -> int:
        """Publish every event above `last_id`; returns how many events were read."""
        if self.last_id is None:
            async with self.sessionmaker() as session:
                self.last_id = (await id_bounds(session))[1]
        read = 0
        while True:
            async with self.sessionmaker() as session:
                events = await events_after(session, self.last_id, POST_PUBLISHED, PAGE)
                # nobody listening here: advance without loading the posts
                batch = await frames(session, events) if len(self.hub) else []
            for frame in batch:
                self.hub.publish(frame)
            if events:
                self.last_id = events[-1].id
            read += len(events)
            if len(events) < PAGE:
                return read

    async def _follow_forever(self) -> None:
        while True:
            try:
                await self.catch_up()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("feed could not read the outbox", extra={"error": type(error).__name__})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
                await asyncio.sleep(BATCH_SECONDS)
            self._wake.clear()
