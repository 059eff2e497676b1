"""What happened to a post, and the one hook point where other packages subscribe to it.

The posts service calls `Publisher.published()` inside the transaction that published posts;
each subscriber (realtime's feed, notifications' fan-out; wired by `create_app`) runs right
there, in subscription order. Work that must wait for COMMIT a subscriber registers with
`service.kit.db.after_commit`, so a rollback (or a rolled-back savepoint) drops it. Posts never
imports its subscribers. A transactional outbox would replace the subscriber loop: write the
events in this transaction, deliver them from a worker.
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.db.session import SessionMakerDep
from service.kit.state import StateSlot


@dataclass(frozen=True)
class PostPublished:
    """A post became visible to everyone: created published, or a draft published."""

    post_id: int
    author_id: int


@dataclass(frozen=True)
class Publication:
    """One transaction's newly published posts, as each subscriber receives them."""

    session: AsyncSession
    """The publishing session, still inside its transaction."""
    posts: Sequence[PostPublished]
    sessionmaker: async_sessionmaker[AsyncSession]
    """For a subscriber's work after commit, in a transaction of its own (`own_transaction`)."""


Subscriber = Callable[[Publication], Awaitable[None]]


class PostEvents:
    """The hook point: one per application, created and subscribed by `create_app`."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    async def deliver(self, publication: Publication) -> None:
        for subscriber in self._subscribers:
            await subscriber(publication)


POST_EVENTS: StateSlot[PostEvents] = StateSlot("post_events")
"""The application's hook point (set by `create_app`)."""


@dataclass(frozen=True)
class Publisher:
    """The hook point as one request sees it: what the posts service calls when it publishes."""

    events: PostEvents
    sessionmaker: async_sessionmaker[AsyncSession]

    async def published(self, session: AsyncSession, posts: Sequence[PostPublished]) -> None:
        if posts:
            await self.events.deliver(Publication(session, posts, self.sessionmaker))


async def get_publisher(request: Request, sessionmaker: SessionMakerDep) -> Publisher:
    # The request's sessionmaker (tests override it), not the application's.
    return Publisher(POST_EVENTS.of(request), sessionmaker)


PublisherDep = Annotated[Publisher, Depends(get_publisher)]
