"""The OpenAPI document a client generator can trust.

Each route documents itself when built (`document_route`): every error status its providers,
decorator and signature imply, as problem+json with examples. `openapi_of(app)` adds what
belongs to the whole document (the `Problem` schema, write headers, links from `201`s)."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from service.kit.errors import (
    PROBLEM_JSON,
    UNEXPECTED,
    UNSTORABLE_VALUE,
    AppError,
    BadRequest,
    ContentTooLarge,
    NotFound,
    PreconditionFailed,
    Problem,
    ValidationFailed,
)
from service.kit.http.answers import (
    ALWAYS_SENT,
    SAFE_METHODS,
    Answers,
    ResponseHeader,
    example_key,
    example_of,
)
from service.kit.http.middleware import QUERY_HAS_NUL
from service.kit.schemas import MAX_BIGINT
from service.kit.settings import KitSettings

_METHODS = {"get", "put", "patch", "delete", "post"}
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_UNEXPECTED = AppError(UNEXPECTED)


@dataclass(frozen=True)
class RouteShape:
    """What a route takes, as the route class reads it from its signature."""

    path_params: tuple[str, ...]
    query_params: tuple[str, ...]
    """Query parameter names; a query model's first field stands for the model."""
    headers: tuple[str, ...]
    has_body: bool
    answers: Answers
    """What its providers (and the endpoint) declare for its method."""


def add_links(schema: dict[str, Any]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = schema.get("paths", {})
    for path, item in paths.items():
        created = item.get("post", {}).get("responses", {}).get("201")
        if created is None:
            continue
        pattern = re.compile(re.escape(path) + r"/\{(?P<param>\w+)\}(?P<rest>/[^{}]*)?")
        for target_path, target_item in paths.items():
            match = pattern.fullmatch(target_path)
            if match is None:
                continue
            for method, operation in target_item.items():
                if method not in _METHODS or "operationId" not in operation:
                    continue
                links = created.setdefault("links", {})
                links[operation["operationId"]] = {
                    "operationId": operation["operationId"],
                    "parameters": {match["param"]: "$response.body#/id"},
                    "description": f"{method.upper()} {target_path} of the created resource",
                }
    return schema


def implied_errors(shape: RouteShape, max_body_bytes: int) -> list[AppError]:
    """The errors a route's signature implies, whatever its code does."""
    errors: list[AppError] = [_UNEXPECTED]
    if shape.path_params or shape.query_params or shape.headers or shape.has_body:
        errors.append(ValidationFailed([{"loc": _first_location(shape), "msg": "Field required"}]))
        # A value that passed validation but not the database (service/kit/errors.py).
        errors.append(BadRequest(UNSTORABLE_VALUE))
    if shape.has_body:
        errors.append(ContentTooLarge.over(max_body_bytes))
    if shape.query_params:
        errors.append(QUERY_HAS_NUL)
    for name in shape.path_params:
        errors.append(NotFound(f"No such {name.removesuffix('_id').replace('_', ' ')}."))
    if "if-match" in (h.lower() for h in shape.headers):
        errors.append(PreconditionFailed("If-Match does not name the current version."))
    return errors


def _first_location(shape: RouteShape) -> list[str | int]:
    """Where the example 422 points: the body (FastAPI's answer to a missing one), else the
    first parameter."""
    if shape.has_body:
        return ["body"]
    if shape.path_params:
        return ["path", shape.path_params[0]]
    if shape.query_params:
        return ["query", shape.query_params[0]]
    return ["header", shape.headers[0]]


def document_route(
    shape: RouteShape,
    responses: dict[int | str, dict[str, Any]],
    success_status: int,
) -> tuple[dict[int | str, dict[str, Any]], bool]:
    """The route's `responses` completed from its shape, and whether its token is optional."""
    max_body = KitSettings.model_fields["max_body_bytes"].default
    operation: dict[str, Any] = {"responses": {str(s): dict(r) for s, r in responses.items()}}
    _document_errors(operation, [*implied_errors(shape, max_body), *shape.answers.errors])
    headers = {h.name: h.document() for h in shape.answers.headers}
    if headers:
        response = operation["responses"].setdefault(str(success_status), {})
        response["headers"] = {**headers, **response.get("headers", {})}
    completed: dict[int | str, dict[str, Any]] = operation["responses"]
    return completed, shape.answers.security == "optional"


def _document_errors(operation: dict[str, Any], errors: list[AppError]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    by_status: dict[int, list[AppError]] = {}
    for error in errors:
        by_status.setdefault(error.status, []).append(error)
    # What the decorator declared with `error_responses(...)`; any other content is left as it is.
    declared_by_route = {
        int(s) for s, r in responses.items() if PROBLEM_JSON in r.get("content", {})
    }
    for status in sorted(by_status.keys() | declared_by_route):
        response = responses.setdefault(str(status), {})
        old = response.get("content", {}).get(PROBLEM_JSON, {}).get("examples", {})
        examples = dict(old)
        for error in by_status.get(status, []):
            example = {"summary": error.detail, "value": example_of(error)}
            examples.setdefault(example_key(error), example)
        first = next(iter(examples.values()))
        title = first["value"]["title"]
        response["description"] = title if len(examples) > 1 else f"{title}: {first['summary']}"
        response["content"] = {PROBLEM_JSON: {"schema": _PROBLEM_REF, "examples": examples}}
        if status in ALWAYS_SENT:
            headers = response.setdefault("headers", {})
            for header in ALWAYS_SENT[status]:
                headers.setdefault(header.name, header.document())
    operation["responses"] = dict(sorted(responses.items()))


_BOUNDS = ("maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum")


def exact_integer_bounds(node: Any) -> None:
    """FastAPI's OpenAPI model keeps bounds as floats: BIGINT's 9223372036854775807 came out as
    9.223372036854776e18 (2**63, past the bound) and generators sent it as a valid id. Integer
    schemas get integers back, the BIGINT bounds exactly (the only ones past 2**53 here)."""
    pending = [node]
    while pending:
        current = pending.pop()
        if isinstance(current, list):
            pending.extend(current)
        elif isinstance(current, dict):
            if current.get("type") == "integer":
                for key in _BOUNDS:
                    if isinstance(value := current.get(key), float):
                        current[key] = max(-MAX_BIGINT - 1, min(MAX_BIGINT, int(value)))
            pending.extend(current.values())


def complete_document(
    schema: dict[str, Any], *, write_headers: tuple[ResponseHeader, ...] = ()
) -> dict[str, Any]:
    """What belongs to the whole document rather than to one route: the `Problem` schema the
    error answers refer to, the headers middleware adds to every write's success, links from
    a created resource to its operations, and exact integer bounds."""
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem.pop("$defs", {}))
    schemas["Problem"] = problem
    for item in schema.get("paths", {}).values():
        for method, operation in item.items():
            if method.upper() in SAFE_METHODS or method not in _METHODS:
                continue
            for status, response in operation.get("responses", {}).items():
                if status.startswith("2"):
                    documented = response.setdefault("headers", {})
                    for header in write_headers:
                        documented.setdefault(header.name, header.document())
    exact_integer_bounds(schema)
    return add_links(schema)


def openapi_of(
    app: FastAPI, *, write_headers: tuple[ResponseHeader, ...] = ()
) -> Callable[[], dict[str, Any]]:
    """`app.openapi = openapi_of(app)`: FastAPI's document, completed once (FastAPI's docs,
    "Extending OpenAPI")."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete_document(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    openapi_version=app.openapi_version,
                    description=app.description,
                    routes=app.routes,
                    tags=app.openapi_tags,
                    servers=app.servers,
                ),
                write_headers=write_headers,
            )
        return app.openapi_schema

    return openapi
