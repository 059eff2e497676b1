"""`Route`: the one route class. Endpoints are ordinary FastAPI; each is planned once.

An endpoint takes path parameters, query parameters (or one query model), a body model,
headers, and request-scoped values from dependencies (`Annotated[T, Depends(provider)]`: the
viewer, the signed-in user, a session or read connection...). When the route is built its
dependency tree is flattened into a plan: which provider runs when, with which arguments, and
how each parameter is read and validated. A request then runs the plan: no re-inspection of
annotations, no exit stack unless a provider yields. `app.dependency_overrides` are honoured
(the plan is redone for the overrides in effect, as FastAPI's solver does), so tests override
providers the way FastAPI documents. Shapes the plan does not cover (forms, streamed
generators) use FastAPI's own handler.

Beyond FastAPI: the route documents its error answers when it is built
(service/kit/http/openapi.py); it runs its providers' response hooks (`ResponseHook`: an
idempotency claim records the response in the request's transaction) and sends the answer a
provider raises (`Answered`: a replay); headers a provider sets as it exits (the commit's
consistency token) are sent too.

Everything that reaches into FastAPI's or pydantic's internals stays in this package (plan.py,
run.py, route.py); `tests/kit/http/test_routing.py` pins it to the installed versions.
"""

from service.kit.http.routing.hooks import Answered, ResponseHook, shielded
from service.kit.http.routing.route import Route, api_routes, route_table

PINNED = {"fastapi": "0.165.0", "pydantic": "2.14.4"}
"""The versions whose internals this package was written against (checked by a test)."""

__all__ = [
    "PINNED",
    "Answered",
    "ResponseHook",
    "Route",
    "api_routes",
    "route_table",
    "shielded",
]
