"""`Route`: the one route class. Endpoints are ordinary FastAPI; each is planned once.

When the route is built its dependency tree is flattened into a plan each request runs (redone
for `app.dependency_overrides`); forms and streamed generators use FastAPI's own handler.
Everything that reaches into FastAPI's or pydantic's internals stays in this package, pinned to
the installed versions by `tests/kit/http/test_routing.py`."""

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
