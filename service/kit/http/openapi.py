"""The OpenAPI document a client generator can trust, completed from the route table.

FastAPI describes the success response of each route. `LinkedAPI.openapi()` adds, in one pass
over the routes, what each one can actually answer besides (`service/kit/http/answers.py`):

- every error status it can produce, as `application/problem+json` with the `Problem` schema
  and one example per cause: what its dependencies declare (401 from authentication, 429 from a
  rate limit, 503 from the database...), what its decorator declares (`problems(...)`: an owner
  check's 403), and what its signature implies (parameters or a body: 422; a body: 413; query
  parameters: 400; a path id: 404; an `If-Match` header: 412; anything: 500);
- the headers those responses carry (Retry-After, WWW-Authenticate, RateLimit-*...) and the
  headers its dependencies add to a success (RateLimit-*, Idempotent-Replayed...);
- its security: required, optional (`[{}, {scheme: []}]`: a token changes what is shown) or
  none (a public read has no padlock, even if a rate limit looks at a token);
- links: every `201` of `POST /x` links to the operations on `/x/{id}` (and below), so clients
  and schemathesis' stateful tests act on the resource they created instead of guessing ids.
"""

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

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
from service.kit.http.answers import ALWAYS_SENT, Answers, declared, example_key, example_of
from service.kit.http.middleware import QUERY_HAS_NUL
from service.kit.schemas import MAX_BIGINT
from service.kit.settings import SETTINGS, KitSettings

_METHODS = {"get", "put", "patch", "delete", "post"}
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_UNEXPECTED = AppError(UNEXPECTED)


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


def implied_errors(dependant: Dependant, has_body: bool, max_body_bytes: int) -> list[AppError]:
    """The errors a route's signature implies, whatever its code does."""
    params = [*_params(dependant, "path_params"), *_params(dependant, "query_params")]
    headers = {p.alias.lower() for p in _params(dependant, "header_params")}
    errors: list[AppError] = [_UNEXPECTED]
    if params or headers or has_body:
        where = _first_location(dependant, has_body)
        errors.append(ValidationFailed([{"loc": where, "msg": "Field required"}]))
        # A value that passed validation but not the database (service/kit/errors.py).
        errors.append(BadRequest(UNSTORABLE_VALUE))
    if has_body:
        errors.append(ContentTooLarge.over(max_body_bytes))
    if _params(dependant, "query_params"):
        errors.append(QUERY_HAS_NUL)
    for param in _params(dependant, "path_params"):
        what = param.alias.removesuffix("_id").replace("_", " ")
        errors.append(NotFound(f"No such {what}."))
    if "if-match" in headers:
        errors.append(PreconditionFailed("If-Match does not name the current version."))
    return errors


def _params(dependant: Dependant, kind: str) -> list[Any]:
    """Parameters of `kind` of the route and all its dependencies."""
    found = list(getattr(dependant, kind))
    for sub in dependant.dependencies:
        found.extend(p for p in _params(sub, kind) if p not in found)
    return found


def _first_name(param: Any) -> str:
    """A parameter's name; for a query model (`Annotated[Model, Query()]`), its first field's."""
    model = param.field_info.annotation
    if isinstance(model, type) and issubclass(model, BaseModel):
        name, field = next(iter(model.model_fields.items()))
        return field.alias or name
    return str(param.alias)


def _first_location(dependant: Dependant, has_body: bool) -> list[str | int]:
    """Where the example 422 points: the body (FastAPI's answer to a missing one), else the
    first parameter."""
    if has_body:
        return ["body"]
    for kind, where in (("path_params", "path"), ("query_params", "query")):
        if params := _params(dependant, kind):
            return [where, _first_name(params[0])]
    return ["header", _params(dependant, "header_params")[0].alias]


def _document_errors(operation: dict[str, Any], errors: list[AppError]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    by_status: dict[int, list[AppError]] = {}
    for error in errors:
        by_status.setdefault(error.status, []).append(error)
    # What the decorator declared with `problems(...)`; any other content is left as it is.
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


def _document_success(operation: dict[str, Any], answers: Answers) -> None:
    for status, response in operation.get("responses", {}).items():
        if status.startswith("2"):
            headers = response.setdefault("headers", {})
            for header in answers.headers:
                headers.setdefault(header.name, header.document())
            if not headers:
                del response["headers"]


def _document_security(operation: dict[str, Any], answers: Answers, schemes: list[str]) -> None:
    names = [name for requirement in operation.pop("security", []) for name in requirement]
    requirements: list[dict[str, list[str]]] = [{name: []} for name in names or schemes]
    if answers.security == "required":
        operation["security"] = requirements
    elif answers.security == "optional":
        operation["security"] = [{}, *requirements]


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


def document_answers(
    schema: dict[str, Any],
    app: FastAPI,
    extra: Mapping[Callable[..., Any], Answers] | None = None,
) -> dict[str, Any]:
    """Complete every operation of `schema` from the route that serves it (see the module)."""
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem.pop("$defs", {}))
    schemas["Problem"] = problem
    schemes = list(components.get("securitySchemes", {}))
    settings: KitSettings | None = SETTINGS.find(app)
    max_body = (
        settings.max_body_bytes if settings else KitSettings.model_fields["max_body_bytes"].default
    )
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        dependant: Dependant = route.dependant
        has_body = route.body_field is not None
        implied = implied_errors(dependant, has_body, max_body)
        for method in route.methods or ():
            operation = schema["paths"][route.path_format][method.lower()]
            answers = declared(dependant, method, extra)
            _document_errors(operation, [*implied, *answers.errors])
            _document_success(operation, answers)
            _document_security(operation, answers, schemes)
    exact_integer_bounds(schema)
    # FastAPI's own 422 schema, replaced above by the Problem every 422 really is.
    if '/HTTPValidationError"' not in json.dumps(schema["paths"]):
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
    return schema


class LinkedAPI(FastAPI):
    """FastAPI whose OpenAPI document is completed as above (built once, then cached)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._answers: dict[Callable[..., Any], Answers] = {}

    def declare(self, dependency: Callable[..., Any], answers: Answers) -> None:
        """What `dependency` answers in this application besides what it declares itself: for
        the composition root, where one package's dependency meets another's behaviour."""
        self._answers[dependency] = answers

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            add_links(document_answers(super().openapi(), self, self._answers))
        assert self.openapi_schema is not None
        return self.openapi_schema
