"""The rules of webhook endpoints: only their owner sees or changes them (404 for anyone else),
URLs are checked where they point, the secret is shown once; pings, the log and retries.
Never commits."""

from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from service.database.after_commit import after_commit
from service.kit.errors import NotFound, ValidationFailed
from service.kit.model_base import utcnow
from service.kit.pagination import Page, Pager
from service.users.models import User
from service.webhooks import repository, ssrf
from service.webhooks.enqueue import delivery_row
from service.webhooks.models import WebhookDelivery, WebhookEndpoint
from service.webhooks.runtime import Webhooks
from service.webhooks.schemas import (
    PING,
    AttemptPublic,
    DeliveryPublic,
    EndpointCreate,
    EndpointCreated,
    EndpointPublic,
    EndpointUpdate,
)
from service.webhooks.secrets import new_secret

NO_ENDPOINT = NotFound("No such webhook endpoint.")
NO_DELIVERY = NotFound("No such delivery.")


async def _checked_url(url: str, hooks: Webhooks) -> str:
    """422 (naming the field, never echoing it) unless deliveries may go there."""
    try:
        await ssrf.check(url, hooks.settings.webhook_allowed_hosts)
    except ssrf.Refused as refused:
        raise ValidationFailed(
            [{"loc": ["body", "url"], "msg": str(refused)}], "The webhook URL is not allowed."
        ) from refused
    return url


async def _owned(session: AsyncSession, user: User, endpoint_id: int) -> WebhookEndpoint:
    endpoint = await repository.get_endpoint(session, endpoint_id)
    if endpoint is None or endpoint.user_id != user.id:
        raise NO_ENDPOINT
    return endpoint


def _public(endpoint: WebhookEndpoint) -> EndpointPublic:
    return EndpointPublic.model_validate(endpoint)


async def create(
    session: AsyncSession, hooks: Webhooks, *, user: User, data: EndpointCreate
) -> EndpointCreated:
    assert user.id is not None
    url = await _checked_url(data.url, hooks)
    secret = new_secret()
    endpoint = WebhookEndpoint(
        user_id=user.id,
        url=url,
        events=[str(e) for e in data.events],
        description=data.description,
        sealed_secret=hooks.box.seal(secret, owner_id=user.id),
    )
    session.add(endpoint)
    await session.flush()
    return EndpointCreated(**_public(endpoint).model_dump(), secret=secret)


async def list_mine(session: AsyncSession, *, user: User, pager: Pager) -> Page[EndpointPublic]:
    assert user.id is not None
    sort = repository.ENDPOINTS_NEWEST
    rows = await repository.endpoint_page(
        session, user_id=user.id, after=pager.after(sort), limit=pager.limit
    )
    items, next_cursor = pager.page(rows, sort)
    return Page(items=[_public(e) for e in items], next_cursor=next_cursor)


async def read(session: AsyncSession, *, user: User, endpoint_id: int) -> EndpointPublic:
    return _public(await _owned(session, user, endpoint_id))


async def update(
    session: AsyncSession, hooks: Webhooks, *, user: User, endpoint_id: int, data: EndpointUpdate
) -> EndpointPublic:
    endpoint = await _owned(session, user, endpoint_id)
    changes = data.model_dump(exclude_unset=True)
    if "url" in changes:
        endpoint.url = await _checked_url(changes["url"], hooks)
    if "events" in changes:
        endpoint.events = [str(e) for e in changes["events"]]
    if "description" in changes:
        endpoint.description = changes["description"]
    if changes.get("enabled") is True and not endpoint.enabled:
        endpoint.enabled, endpoint.disabled_reason, endpoint.failing_since = True, None, None
        after_commit(session, hooks.wake)
    elif changes.get("enabled") is False:
        endpoint.enabled, endpoint.disabled_reason = False, "Disabled by its owner."
    endpoint.updated_at = utcnow()
    session.add(endpoint)
    await session.flush()
    return _public(endpoint)


async def delete(session: AsyncSession, *, user: User, endpoint_id: int) -> None:
    endpoint = await _owned(session, user, endpoint_id)
    await session.delete(endpoint)
    await session.flush()


async def _delivery(delivery: WebhookDelivery, session: AsyncSession) -> DeliveryPublic:
    return (await _with_attempts(session, [delivery]))[0]


async def _with_attempts(
    session: AsyncSession, deliveries: list[WebhookDelivery]
) -> list[DeliveryPublic]:
    attempts = await repository.attempts_of(session, [d.id for d in deliveries if d.id])
    by_delivery: dict[int, list[AttemptPublic]] = {}
    for attempt in attempts:
        by_delivery.setdefault(attempt.delivery_id, []).append(
            AttemptPublic.model_validate(attempt)
        )
    return [
        DeliveryPublic.model_validate(
            {**d.model_dump(), "attempt_log": by_delivery.get(d.id or 0, [])}
        )
        for d in deliveries
    ]


async def ping(
    session: AsyncSession, hooks: Webhooks, *, user: User, endpoint_id: int
) -> DeliveryPublic:
    """Queue a `webhook.ping` behind the endpoint's pending deliveries (order is kept)."""
    endpoint = await _owned(session, user, endpoint_id)
    assert endpoint.id is not None
    row = delivery_row(
        endpoint_id=endpoint.id,
        event_id=None,
        event_type=PING,
        data={"endpoint_id": endpoint.id},
        at=utcnow(),
        retry_hours=hooks.settings.webhook_retry_hours,
    )
    delivery = WebhookDelivery.model_validate(row)
    session.add(delivery)
    await session.flush()
    after_commit(session, hooks.wake)
    return await _delivery(delivery, session)


async def deliveries(
    session: AsyncSession, *, user: User, endpoint_id: int, pager: Pager
) -> Page[DeliveryPublic]:
    """The endpoint's log, newest first: one statement for the page, one for its attempts."""
    await _owned(session, user, endpoint_id)
    sort = repository.DELIVERIES_NEWEST
    rows = await repository.delivery_page(
        session, endpoint_id=endpoint_id, after=pager.after(sort), limit=pager.limit
    )
    items, next_cursor = pager.page(rows, sort)
    return Page(items=await _with_attempts(session, list(items)), next_cursor=next_cursor)


async def retry(
    session: AsyncSession, hooks: Webhooks, *, user: User, endpoint_id: int, delivery_id: int
) -> DeliveryPublic:
    """Send it again as soon as it is its endpoint's turn, with a fresh retry window."""
    await _owned(session, user, endpoint_id)
    delivery = await repository.get_delivery(
        session, endpoint_id=endpoint_id, delivery_id=delivery_id
    )
    if delivery is None:
        raise NO_DELIVERY
    now = utcnow()
    delivery.status, delivery.next_attempt_at, delivery.finished_at = "pending", now, None
    delivery.expires_at = now + timedelta(hours=hooks.settings.webhook_retry_hours)
    session.add(delivery)
    await session.flush()
    after_commit(session, hooks.wake)
    return await _delivery(delivery, session)
