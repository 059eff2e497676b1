"""`IdempotentRoute`: records a claimed key's response inside the request's transaction.

FastAPI builds the whole `Response` (status, headers, rendered body) inside the dependencies'
function scope, i.e. before `SessionDep` commits. Wrapping the route handler is therefore the
one place where the response exists while the request's transaction is still open: the record
is written there, and commits with the request's work.
"""

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from sqlalchemy import update
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from service.idempotency.dependency import _STATE_KEY, STORED_HEADERS, _Pending
from service.idempotency.models import IdempotencyKey


class IdempotentRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if "POST" not in (self.methods or ()):  # only creates take an Idempotency-Key
            return handler

        async def record_in_transaction(request: Request) -> Response:
            response = await handler(request)
            pending = request.scope.get("state", {}).get(_STATE_KEY)
            if isinstance(pending, _Pending) and not isinstance(response, StreamingResponse):
                await record(pending, response)
            return response

        return record_in_transaction


async def record(pending: _Pending, response: Response) -> None:
    kept: dict[str, Any] = {
        name: value for name, value in response.headers.items() if name in STORED_HEADERS
    }
    statement = (
        update(IdempotencyKey)
        .where(col(IdempotencyKey.id) == pending.record_id)
        .values(
            status_code=response.status_code, response_headers=kept, response_body=response.body
        )
    )
    await (await pending.session.connection()).execute(statement)
