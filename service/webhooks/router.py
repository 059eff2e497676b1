from fastapi import APIRouter, Response, status

from service.database.session import ReadSessionDep, SessionDep
from service.kit.errors import ValidationFailed
from service.kit.http.answers import LOCATION, body_examples, error_responses, success_headers
from service.kit.http.routing import Route
from service.kit.pagination import Page, PagerDep
from service.kit.schemas import IdPath
from service.users.dependencies import CurrentUser, Idempotent, WriteRateLimit
from service.webhooks import service
from service.webhooks.runtime import WebhooksDep
from service.webhooks.schemas import (
    DeliveryPublic,
    EndpointCreate,
    EndpointCreated,
    EndpointPublic,
    EndpointUpdate,
)

router = APIRouter(prefix="/users/me/webhooks", tags=["webhooks"], route_class=Route)

REFUSED_URL = ValidationFailed(
    [{"loc": ["body", "url"], "msg": "The URL points to a private address."}],
    "The webhook URL is not allowed.",
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=EndpointCreated,
    dependencies=[WriteRateLimit, Idempotent],
    summary="Add a webhook endpoint",
    description="Events are POSTed to `url`, signed as Standard Webhooks specifies, with the "
    "`secret` of this answer (shown only here). The URL must be http(s), without credentials, "
    "and resolve to public addresses only (else 422).",
    responses=error_responses(service.NO_ENDPOINT, REFUSED_URL) | success_headers(201, LOCATION),
    openapi_extra=body_examples(
        {
            "Posts and comments": {
                "url": "https://hooks.example.com/inkwell",
                "events": ["post.published", "comment.created"],
                "description": "my blog mirror",
            }
        }
    ),
)
async def create_endpoint(
    data: EndpointCreate,
    user: CurrentUser,
    session: SessionDep,
    hooks: WebhooksDep,
    response: Response,
) -> EndpointCreated:
    created = await service.create(session, hooks, user=user, data=data)
    response.headers["Location"] = f"/api/v1/users/me/webhooks/{created.id}"
    return created


@router.get(
    "",
    response_model=Page[EndpointPublic],
    summary="List your webhook endpoints",
    description="Newest first. Secrets are never shown again.",
)
async def list_endpoints(
    user: CurrentUser, session: ReadSessionDep, pager: PagerDep
) -> Page[EndpointPublic]:
    return await service.list_mine(session, user=user, pager=pager)


@router.get(
    "/{endpoint_id:id}",
    response_model=EndpointPublic,
    summary="Read a webhook endpoint",
    description="One of your endpoints (its secret is never shown again); anyone else's is a 404.",
    responses=error_responses(service.NO_ENDPOINT),
)
async def read_endpoint(
    endpoint_id: IdPath, user: CurrentUser, session: ReadSessionDep
) -> EndpointPublic:
    return await service.read(session, user=user, endpoint_id=endpoint_id)


@router.patch(
    "/{endpoint_id:id}",
    response_model=EndpointPublic,
    dependencies=[WriteRateLimit],
    summary="Change a webhook endpoint",
    description="Only the fields sent change. `enabled: true` re-enables an endpoint that was "
    "disabled for failing; a new `url` is checked like a new endpoint's.",
    responses=error_responses(service.NO_ENDPOINT, REFUSED_URL),
    openapi_extra=body_examples(
        {
            "Fewer events": {"events": ["post.published"]},
            "Enable again": {"enabled": True},
        }
    ),
)
async def update_endpoint(
    endpoint_id: IdPath,
    data: EndpointUpdate,
    user: CurrentUser,
    session: SessionDep,
    hooks: WebhooksDep,
) -> EndpointPublic:
    return await service.update(session, hooks, user=user, endpoint_id=endpoint_id, data=data)


@router.delete(
    "/{endpoint_id:id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[WriteRateLimit],
    summary="Delete a webhook endpoint",
    description="Its pending deliveries and its log go with it.",
    responses=error_responses(service.NO_ENDPOINT),
)
async def delete_endpoint(endpoint_id: IdPath, user: CurrentUser, session: SessionDep) -> None:
    await service.delete(session, user=user, endpoint_id=endpoint_id)


@router.post(
    "/{endpoint_id:id}/test",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryPublic,
    dependencies=[WriteRateLimit],
    summary="Send a test ping",
    description="Queues a `webhook.ping` event behind the endpoint's pending deliveries; its "
    "outcome shows in the delivery log.",
    responses=error_responses(service.NO_ENDPOINT),
)
async def ping_endpoint(
    endpoint_id: IdPath, user: CurrentUser, session: SessionDep, hooks: WebhooksDep
) -> DeliveryPublic:
    return await service.ping(session, hooks, user=user, endpoint_id=endpoint_id)


@router.get(
    "/{endpoint_id:id}/deliveries",
    response_model=Page[DeliveryPublic],
    summary="The delivery log of an endpoint",
    description="Newest first; each delivery with its status, last response code and duration, "
    "the next retry while pending, and every attempt.",
    responses=error_responses(service.NO_ENDPOINT),
)
async def list_deliveries(
    endpoint_id: IdPath, user: CurrentUser, session: ReadSessionDep, pager: PagerDep
) -> Page[DeliveryPublic]:
    return await service.deliveries(session, user=user, endpoint_id=endpoint_id, pager=pager)


@router.post(
    "/{endpoint_id:id}/deliveries/{delivery_id:id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryPublic,
    dependencies=[WriteRateLimit],
    summary="Send a delivery again",
    description="As soon as it is the endpoint's turn, with a fresh retry window (a failed "
    "delivery too).",
    responses=error_responses(service.NO_DELIVERY),
)
async def retry_delivery(
    endpoint_id: IdPath,
    delivery_id: IdPath,
    user: CurrentUser,
    session: SessionDep,
    hooks: WebhooksDep,
) -> DeliveryPublic:
    return await service.retry(
        session, hooks, user=user, endpoint_id=endpoint_id, delivery_id=delivery_id
    )
