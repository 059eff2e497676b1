"""Every statement of the webhooks package: endpoints, queued deliveries, the delivery loop's
claims and outcomes, and the log."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlmodel
from sqlalchemy import Row, Table, and_, func, insert, or_, select, update
from sqlalchemy.orm import aliased
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.db import dialects
from service.kit.pagination import SortKey, paginate
from service.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

ENDPOINTS: Table = WebhookEndpoint.__table__  # type: ignore[attr-defined]
DELIVERIES: Table = WebhookDelivery.__table__  # type: ignore[attr-defined]
ATTEMPTS: Table = WebhookAttempt.__table__  # type: ignore[attr-defined]
ENDPOINTS_NEWEST = SortKey("-id", (col(WebhookEndpoint.id),), descending=True)
DELIVERIES_NEWEST = SortKey("-id", (col(WebhookDelivery.id),), descending=True)
PENDING = "pending"


async def get_endpoint(session: AsyncSession, endpoint_id: int) -> WebhookEndpoint | None:
    return await session.get(WebhookEndpoint, endpoint_id)


async def endpoint_page(
    session: AsyncSession, *, user_id: int, after: Sequence[Any] | None, limit: int
) -> Sequence[WebhookEndpoint]:
    statement = sqlmodel.select(WebhookEndpoint).where(col(WebhookEndpoint.user_id) == user_id)
    return (await session.exec(paginate(statement, ENDPOINTS_NEWEST, after, limit))).all()


async def subscribed(session: AsyncSession, *, user_id: int, event_type: str) -> list[int]:
    """The enabled endpoints of `user_id` that asked for `event_type`."""
    statement = select(ENDPOINTS.c.id, ENDPOINTS.c.events).where(
        ENDPOINTS.c.user_id == user_id, ENDPOINTS.c.enabled.is_(True)
    )
    rows = (await (await session.connection()).execute(statement)).all()
    return [int(row.id) for row in rows if event_type in (row.events or [])]


async def queue(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Queue deliveries; one already queued for this (endpoint, event) is kept (a re-run)."""
    if rows:
        await session.exec(
            dialects.insert(session, WebhookDelivery)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["endpoint_id", "event_id"])
        )


async def get_delivery(
    session: AsyncSession, *, endpoint_id: int, delivery_id: int
) -> WebhookDelivery | None:
    delivery = await session.get(WebhookDelivery, delivery_id)
    return delivery if delivery is not None and delivery.endpoint_id == endpoint_id else None


async def delivery_page(
    session: AsyncSession, *, endpoint_id: int, after: Sequence[Any] | None, limit: int
) -> Sequence[WebhookDelivery]:
    statement = sqlmodel.select(WebhookDelivery).where(
        col(WebhookDelivery.endpoint_id) == endpoint_id
    )
    return (await session.exec(paginate(statement, DELIVERIES_NEWEST, after, limit))).all()


async def attempts_of(
    session: AsyncSession, delivery_ids: Iterable[int]
) -> Sequence[WebhookAttempt]:
    """Every attempt of these deliveries (one statement), oldest first."""
    ids = list(delivery_ids)
    if not ids:
        return []
    statement = (
        sqlmodel.select(WebhookAttempt)
        .where(col(WebhookAttempt.delivery_id).in_(ids))
        .order_by(col(WebhookAttempt.delivery_id), col(WebhookAttempt.number))
    )
    return (await session.exec(statement)).all()


def _heads(now: datetime) -> Any:
    """Deliveries due now that are the oldest pending one of an enabled endpoint: the heads are
    found per endpoint (one index probe each), never by scanning every pending delivery."""
    endpoint, pending = aliased(ENDPOINTS), aliased(DELIVERIES)
    head = (
        select(func.min(pending.c.id))
        .where(pending.c.endpoint_id == endpoint.c.id, pending.c.status == PENDING)
        .scalar_subquery()
    )
    heads = select(head).where(endpoint.c.enabled.is_(True))
    return and_(
        DELIVERIES.c.id.in_(heads),
        DELIVERIES.c.status == PENDING,
        DELIVERIES.c.next_attempt_at <= now,
        or_(DELIVERIES.c.locked_until.is_(None), DELIVERIES.c.locked_until < now),
        ENDPOINTS.c.enabled.is_(True),
    )


async def anything_due(session: AsyncSession, now: datetime) -> bool:
    statement = (
        select(DELIVERIES.c.id)
        .select_from(DELIVERIES.join(ENDPOINTS, ENDPOINTS.c.id == DELIVERIES.c.endpoint_id))
        .where(_heads(now))
        .limit(1)
    )
    return (await (await session.connection()).execute(statement)).first() is not None


async def claim(
    session: AsyncSession, *, now: datetime, lease_until: datetime, limit: int
) -> list[Any]:
    """Lease the head delivery of up to `limit` endpoints and record the attempt about to be
    made (so an attempt cut short by a crash still shows in the log)."""
    connection = await session.connection()
    statement = (
        select(
            DELIVERIES.c.id,
            DELIVERIES.c.endpoint_id,
            DELIVERIES.c.message_id,
            DELIVERIES.c.body,
            DELIVERIES.c.attempts,
            DELIVERIES.c.expires_at,
            ENDPOINTS.c.url,
            ENDPOINTS.c.user_id,
            ENDPOINTS.c.sealed_secret,
        )
        .select_from(DELIVERIES.join(ENDPOINTS, ENDPOINTS.c.id == DELIVERIES.c.endpoint_id))
        .where(_heads(now))
        .order_by(DELIVERIES.c.next_attempt_at, DELIVERIES.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=DELIVERIES)
    )
    rows = list((await connection.execute(statement)).all())
    if not rows:
        return []
    ids = [row.id for row in rows]
    await connection.execute(
        update(DELIVERIES)
        .where(DELIVERIES.c.id.in_(ids))
        .values(attempts=DELIVERIES.c.attempts + 1, locked_until=lease_until)
    )
    attempts = [{"delivery_id": r.id, "number": r.attempts + 1, "started_at": now} for r in rows]
    await connection.execute(insert(ATTEMPTS), [{**a, "outcome": "sending"} for a in attempts])
    return rows


async def record(session: AsyncSession, outcomes: Sequence[dict[str, Any]]) -> None:
    """Write each attempt's outcome on the attempt and its delivery (executemany)."""
    connection = await session.connection()
    for outcome in outcomes:
        await connection.execute(
            update(ATTEMPTS)
            .where(
                ATTEMPTS.c.delivery_id == outcome["delivery_id"],
                ATTEMPTS.c.number == outcome["number"],
            )
            .values(
                outcome=outcome["outcome"],
                response_code=outcome["response_code"],
                duration_ms=outcome["duration_ms"],
                error=outcome["error"],
                finished_at=outcome["at"],
            )
        )
        await connection.execute(
            update(DELIVERIES)
            .where(DELIVERIES.c.id == outcome["delivery_id"])
            .values(
                status=outcome["status"],
                response_code=outcome["response_code"],
                duration_ms=outcome["duration_ms"],
                last_error=outcome["error"],
                next_attempt_at=outcome["next_attempt_at"],
                finished_at=outcome["finished_at"],
                locked_until=None,
            )
        )


async def mark_endpoints(
    session: AsyncSession, *, succeeded: set[int], failed: set[int], now: datetime
) -> None:
    """A success ends an endpoint's run of failures; a failure starts one if none is running."""
    connection = await session.connection()
    if succeeded:
        await connection.execute(
            update(ENDPOINTS)
            .where(ENDPOINTS.c.id.in_(succeeded), ENDPOINTS.c.failing_since.is_not(None))
            .values(failing_since=None)
        )
    if failed - succeeded:
        await connection.execute(
            update(ENDPOINTS)
            .where(ENDPOINTS.c.id.in_(failed - succeeded), ENDPOINTS.c.failing_since.is_(None))
            .values(failing_since=now)
        )


async def disable_failing(
    session: AsyncSession, *, since: datetime, reason: str, now: datetime
) -> list[Row[Any]]:
    """Disable every enabled endpoint failing since before `since`; returns (id, user_id)."""
    statement = (
        update(ENDPOINTS)
        .where(ENDPOINTS.c.enabled.is_(True), ENDPOINTS.c.failing_since < since)
        .values(enabled=False, disabled_reason=reason, updated_at=now)
        .returning(ENDPOINTS.c.id, ENDPOINTS.c.user_id)
    )
    return list((await (await session.connection()).execute(statement)).all())
