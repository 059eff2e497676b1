"""The job handlers (wired in `service/flows.py`): an outbox event becomes one queued delivery
per endpoint that subscribed to it, in the worker's transaction for that event (a re-run queues
nothing twice)."""

import json
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from service.database.after_commit import after_commit
from service.jobs.outbox import Event
from service.jobs.worker import Handler
from service.kit.model_base import utcnow
from service.webhooks import repository
from service.webhooks.schemas import EventType

OWNER: Mapping[str, str] = {
    EventType.post_published: "author_id",
    EventType.comment_created: "post_author_id",
    EventType.follower_added: "followee_id",
    EventType.post_liked: "author_id",
}
"""Whose endpoints hear of an event: the payload field naming that user."""


def body(event_type: str, data: Mapping[str, Any], at: datetime) -> str:
    """The JSON every attempt sends (and signs) byte for byte."""
    timestamp = at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    document = {"type": event_type, "timestamp": timestamp, "data": dict(data)}
    return json.dumps(document, separators=(",", ":"), sort_keys=True)


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def delivery_row(
    *,
    endpoint_id: int,
    event_id: int | None,
    event_type: str,
    data: Mapping[str, Any],
    at: datetime,
    retry_hours: float,
) -> dict[str, Any]:
    return {
        "endpoint_id": endpoint_id,
        "event_id": event_id,
        "event_type": event_type,
        "message_id": new_message_id(),
        "body": body(event_type, data, at),
        "status": repository.PENDING,
        "attempts": 0,
        "next_attempt_at": at,
        "expires_at": at + timedelta(hours=retry_hours),
        "created_at": at,
    }


def handler(topic: str, *, retry_hours: float, wake: Callable[[], None]) -> Handler:
    """The handler of one topic; `wake` (the sender) is called after its transaction commits."""
    owner_field = OWNER[topic]

    async def queue_deliveries(session: AsyncSession, event: Event) -> None:
        owner_id = int(event.payload[owner_field])
        endpoints = await repository.subscribed(session, user_id=owner_id, event_type=topic)
        if not endpoints:
            return
        at = utcnow()
        rows = [
            delivery_row(
                endpoint_id=endpoint_id,
                event_id=event.id,
                event_type=topic,
                data=event.payload,
                at=at,
                retry_hours=retry_hours,
            )
            for endpoint_id in endpoints
        ]
        await repository.queue(session, rows)
        after_commit(session, wake)

    return queue_deliveries
