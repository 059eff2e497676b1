"""`Route`: the one route class. Endpoints are ordinary FastAPI; each is planned once.

When the route is built its dependency tree is flattened into a plan that each request runs
(service/kit/http/planning/; redone for `app.dependency_overrides`); forms and streamed
generators use FastAPI's own handler. The route documents its error answers when it is built
(service/kit/http/openapi.py).

This is the one module that reaches into FastAPI's and pydantic's internals: the planning
modules take what they need of them from here, and `tests/kit/http/test_routing.py` pins them
to the installed versions (`PINNED`) and refuses them anywhere else.
"""

from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from fastapi import params
from fastapi._body_limit import get_body_limit_error
from fastapi._compat import (
    ModelField,
    Undefined,
    field_annotation_is_sequence,
    get_missing_field_error,
)
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import (
    _get_param_aliases,
    _is_json_field,
    get_dependant,
    request_body_to_args,
    request_params_to_args,
)
from fastapi.routing import APIRoute, _effective_route_context_var, iter_route_contexts
from fastapi.utils import is_body_allowed_for_status_code
from pydantic import BaseModel
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from service.kit.http.answers import declared_by
from service.kit.http.openapi import RouteShape, document_route
from service.kit.http.planning.hooks import Answered, ResponseHook, shielded

PINNED = {"fastapi": "0.165.0", "pydantic": "2.14.4"}
"""The versions whose internals this module was written against (checked by a test)."""

__all__ = [
    "PINNED",
    "Answered",
    "Dependant",
    "IdConvertor",
    "ModelField",
    "ResponseHook",
    "Route",
    "Undefined",
    "api_routes",
    "body_limit_error",
    "construct",
    "field_annotation_is_sequence",
    "generic_origin",
    "get_dependant",
    "get_missing_field_error",
    "is_body_allowed_for_status_code",
    "is_form",
    "is_json_field",
    "param_aliases",
    "render_json",
    "request_body_to_args",
    "request_params_to_args",
    "route_table",
    "shielded",
]


class IdConvertor(Convertor[str]):
    """`{post_id:id}`: a segment that starts with a letter is a name (`search`, `me`), never an id.

    Anything else is handed to the parameter's own validation, so `/posts/1.0` is a 422 that
    names it, while `/posts/search` can never fall into `/posts/{post_id:id}`.
    """

    regex = "[^/A-Za-z][^/]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return str(value)


register_url_convertor("id", IdConvertor())

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
ResponseT = TypeVar("ResponseT", bound=BaseModel)

param_aliases = _get_param_aliases
is_json_field = _is_json_field
body_limit_error = get_body_limit_error


def is_form(field: ModelField) -> bool:
    return isinstance(field.field_info, params.Form)


def render_json(model: BaseModel, *, by_alias: bool) -> bytes:
    """The JSON bytes of a model, by its own serializer (no validation on the way)."""
    return model.__pydantic_serializer__.to_json(model, by_alias=by_alias)


def generic_origin(cls: type | None) -> type | None:
    """`Page` for `Page[PostPublic]`; None for a model that is not a parametrized generic."""
    metadata = getattr(cls, "__pydantic_generic_metadata__", None) or {}
    origin: type | None = metadata.get("origin")
    return origin


def construct(cls: type[ResponseT], fields: dict[str, Any]) -> ResponseT:
    """A response model from trusted values (typed database columns), with no validation.

    Equivalent to `model_construct`, and cheaper (docs/performance.md), only while `fields` names
    every field of `cls` in declaration order and `cls` has no private attributes and no
    `model_post_init` (tests/kit/test_construct.py)."""
    # object.__new__: SQLModel.__new__ would also set the three attributes set below.
    model: ResponseT = object.__new__(cls)
    _set(model, "__dict__", fields)
    _set(model, "__pydantic_fields_set__", set(fields))
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model


_set = object.__setattr__


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
        # The planning modules import this one: imported here, once the module is complete.
        from service.kit.http.planning.plan import Unplannable, build_plan, dependency_calls
        from service.kit.http.planning.run import Runner

        try:
            default = Runner(route, build_plan(route.dependant, {}))
        except Unplannable:
            return super().get_route_handler()
        self.planned = True
        fallback: Handler | None = None
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
                except Unplannable:  # an override of a shape the plan does not cover
                    nonlocal fallback
                    fallback = fallback or super(Route, self).get_route_handler()
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

    calls = [d.call for d in _dependants(dependant)]
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
