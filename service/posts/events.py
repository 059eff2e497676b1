"""What happened to a post, written to the transactional outbox by the posts service.

One `post.published` event per post, in the publishing transaction (and a `post.liked` per new
like); who reacts is wired by the
composition root (`service/flows.py`), never imported here."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlmodel.ext.asyncio.session import AsyncSession

from service.jobs.outbox import OUTBOX, Outbox

POST_PUBLISHED = "post.published"
"""The outbox topic of a post becoming visible to everyone."""
POST_LIKED = "post.liked"
"""The outbox topic of a new like (payload: post_id, author_id of the post, user_id who liked)."""


@dataclass(frozen=True)
class PostPublished:
    """A post became visible to everyone: created published, or a draft published."""

    post_id: int
    author_id: int

    def payload(self) -> dict[str, Any]:
        return {"post_id": self.post_id, "author_id": self.author_id}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> "PostPublished":
        return cls(int(payload["post_id"]), int(payload["author_id"]))


@dataclass(frozen=True)
class Publisher:
    """What the posts service calls when it publishes: the events join its transaction."""

    outbox: Outbox

    async def published(self, session: AsyncSession, posts: Sequence[PostPublished]) -> None:
        await self.outbox.emit(session, POST_PUBLISHED, [post.payload() for post in posts])

    async def liked(
        self, session: AsyncSession, *, post_id: int, author_id: int, user_id: int
    ) -> None:
        payload = {"post_id": post_id, "author_id": author_id, "user_id": user_id}
        await self.outbox.emit(session, POST_LIKED, [payload])


async def get_publisher(request: Request) -> Publisher:
    return Publisher(OUTBOX.of(request))


PublisherDep = Annotated[Publisher, Depends(get_publisher)]
