"""`LeanRoute`: FastAPI's route, minus the per-request work a hot read does not need.

FastAPI's request handler solves every route the same way: it walks the declared parameters one
by one, and for each re-inspects its annotation (is it a sequence? an alias? a model?) before
validating it, then runs the dependency machinery even when there are no dependencies. On a
list of posts (one query model of 13 fields) that walk was a third of the request's Python
calls, measured in process (docs/performance.md).

A `LeanRoute` reads the same signature once, when the route is built, and per request does only
what is left: one validation of the path parameters, one of the query model, then the
endpoint. Its OpenAPI operation is FastAPI's own (the signature is unchanged), and a bad value
is the same `RequestValidationError` with the same `loc`, answered by the one error handler.

What a lean endpoint may take, checked when the route is built (a `TypeError` names the rest):
the `Request`; path parameters; at most one query model (`Annotated[Model, Query()]`; the
model's fields are the query parameters). It takes no dependency, header, cookie or body (a
route that needs those is an ordinary route), and it returns a `Response` (e.g.
`ModelResponse`): the lean handler does no `response_model` validation.
"""

import inspect
from collections import abc
from collections.abc import Callable, Coroutine
from typing import Any, get_args, get_origin, get_type_hints

from fastapi import FastAPI, params
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
_COLLECTIONS = (list, set, frozenset, tuple, abc.Sequence, abc.Set)


class LeanRoute(APIRoute):
    """Use it as a router's `route_class` for routes of the shape above (module docstring)."""

    def get_route_handler(self) -> Handler:
        return lean_handler(self.dependant, self.endpoint)


def check_lean_routes(app: FastAPI) -> None:
    """Once the routers are included: where a lean route is included with dependencies of the
    including router (`include_router(..., dependencies=...)`), its handler would not run them,
    so that is refused here (a `TypeError`) instead of being skipped silently."""
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, LeanRoute):
            _check_shape(route.dependant, route.original_route.endpoint)


def lean_handler(dependant: Dependant, endpoint: Callable[..., Any]) -> Handler:
    """The handler of `endpoint`, planned once from its `dependant`."""
    _check_shape(dependant, endpoint)
    path_fields = list(dependant.path_params)
    query_field = dependant.query_params[0] if dependant.query_params else None
    request_name = dependant.request_param_name

    async def handler(request: Request) -> Response:
        arguments: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        path = request.path_params
        for field in path_fields:
            value, failed = field.validate(path.get(field.alias), loc=("path", field.alias))
            arguments[field.name] = value
            errors.extend(failed)
        if query_field is not None:
            # Last value wins for a repeated key, as FastAPI reads a scalar parameter.
            value, failed = query_field.validate(dict(request.query_params), loc=("query",))
            arguments[query_field.name] = value
            errors.extend(failed)
        if errors:
            raise RequestValidationError(errors)
        if request_name is not None:
            arguments[request_name] = request
        response = await endpoint(**arguments)
        if not isinstance(response, Response):
            raise TypeError(f"{endpoint.__qualname__} must return a Response (LeanRoute)")
        return response

    return handler


def _check_shape(dependant: Dependant, endpoint: Callable[..., Any]) -> None:
    name = getattr(endpoint, "__qualname__", repr(endpoint))
    refused = {
        "dependencies": dependant.dependencies,
        "header parameters": dependant.header_params,
        "cookie parameters": dependant.cookie_params,
        "a body": dependant.body_params,
        "a Response parameter": dependant.response_param_name,
        "background tasks": dependant.background_tasks_param_name,
        "security scopes": dependant.security_scopes_param_name,
    }
    found = [what for what, value in refused.items() if value]
    if not inspect.iscoroutinefunction(endpoint):
        found.append("a plain def (it would run in the thread pool)")
    queries = dependant.query_params
    if queries and not (len(queries) == 1 and _is_query_model(queries[0].field_info)):
        found.append("query parameters other than one query model")
    elif queries and (listed := _repeatable_fields(queries[0].field_info)):
        found.append(f"repeatable query parameters ({', '.join(listed)}: one value is read)")
    returns = get_type_hints(endpoint).get("return")
    if not (isinstance(returns, type) and issubclass(returns, Response)):
        found.append("a return type other than a Response")
    if found:
        raise TypeError(f"{name} cannot be a LeanRoute: it takes {', '.join(found)}")


def _repeatable_fields(info: Any) -> list[str]:
    """Fields of the query model whose type is a collection (`?tag=a&tag=b`): the lean handler
    reads one value."""
    model: type[BaseModel] = info.annotation
    return [
        name
        for name, field in model.model_fields.items()
        if any(
            get_origin(kind) in _COLLECTIONS or kind in _COLLECTIONS
            for kind in (field.annotation, *get_args(field.annotation))
        )
    ]


def _is_query_model(info: Any) -> bool:
    annotation = info.annotation
    return (
        isinstance(info, params.Query)
        and isinstance(annotation, type)
        and issubclass(annotation, BaseModel)
    )
