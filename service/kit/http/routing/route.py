"""The route class, and what the rest of the kit reads of the route table."""

from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, _effective_route_context_var, iter_route_contexts
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from service.kit.http.answers import declared_by
from service.kit.http.openapi import RouteShape, document_route
from service.kit.http.routing.plan import Unplannable, build_plan, dependency_calls
from service.kit.http.routing.run import Runner

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class Route(APIRoute):
    """The route class of every router: `APIRouter(route_class=Route)`."""

    planned = False
    """False where FastAPI's own handler serves the route (a shape the plan does not cover)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.responses, optional = document_route(
            route_shape(self.dependant, self.body_field is not None, self.methods or {"GET"}),
            self.responses,
            self.status_code or 200,
        )
        if optional:
            # FastAPI lists the scheme its token dependency uses; an empty requirement beside it
            # makes the token optional (OpenAPI: any one of the requirements).
            self.openapi_extra = {**(self.openapi_extra or {}), "security": [{}]}

    def get_route_handler(self) -> Handler:
        route: Any = self
        context = _effective_route_context_var.get()
        if context is not None and context.original_route is self:
            route = context
        fallback = super().get_route_handler()
        try:
            default = Runner(route, build_plan(route.dependant, {}))
        except Unplannable:
            return fallback
        self.planned = True
        plans: dict[tuple[tuple[int, int], ...], Runner] = {}
        calls = set(dependency_calls(route.dependant))

        async def handler(request: Request) -> Response:
            overrides = request.app.dependency_overrides
            if not overrides:
                return await default(request)
            used = {call: over for call, over in overrides.items() if call in calls}
            if not used:
                return await default(request)
            key = tuple(sorted((id(call), id(over)) for call, over in used.items()))
            runner = plans.get(key)
            if runner is None:
                try:
                    runner = Runner(route, build_plan(route.dependant, used))
                except Unplannable:
                    return await fallback(request)
                if len(plans) > 16:
                    plans.clear()
                plans[key] = runner
            return await runner(request)

        return handler


def route_shape(dependant: Dependant, has_body: bool, methods: set[str]) -> RouteShape:
    """What the OpenAPI document needs of a route's signature (service/kit/http/openapi.py)."""

    def names(kind: str) -> tuple[str, ...]:
        found: list[str] = []
        for where in _dependants(dependant):
            for param in getattr(where, kind):
                model = param.field_info.annotation
                if isinstance(model, type) and issubclass(model, BaseModel):
                    first, info = next(iter(model.model_fields.items()))
                    name = info.alias or first
                else:
                    name = param.alias
                if name not in found:
                    found.append(name)
        return tuple(found)

    calls = [dependant.call, *dependency_calls(dependant)]
    method = next((m for m in sorted(methods) if m not in {"GET", "HEAD", "OPTIONS"}), "GET")
    return RouteShape(
        path_params=names("path_params"),
        query_params=names("query_params"),
        headers=names("header_params"),
        has_body=has_body,
        answers=declared_by((call for call in calls if call is not None), method),
    )


def _dependants(dependant: Dependant) -> list[Dependant]:
    return [dependant, *(d for sub in dependant.dependencies for d in _dependants(sub))]


def route_table(routes: Sequence[BaseRoute]) -> dict[str, set[str]]:
    """Every served path template (prefixes of included routers applied), with its methods."""
    table: dict[str, set[str]] = {}
    for context in iter_route_contexts(routes):
        methods, path = context.methods, context.path_format
        if methods and path:
            table.setdefault(path, set()).update(methods)
    return table


def api_routes(routes: Sequence[BaseRoute]) -> list[APIRoute]:
    """The API routes, those of included routers too (as they were declared)."""
    return [
        context.original_route
        for context in iter_route_contexts(routes)
        if isinstance(context.original_route, APIRoute)
    ]
