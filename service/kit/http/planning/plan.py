"""The plan of a route: its dependency tree flattened once, when the route is built."""

import inspect
from collections.abc import Callable, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal, get_args, get_type_hints

from fastapi.security import SecurityScopes
from pydantic import BaseModel
from starlette.requests import Request

from service.kit.http.planning.hooks import SHIELDED, ResponseHook
from service.kit.http.routing import (
    Dependant,
    ModelField,
    Undefined,
    field_annotation_is_sequence,
    get_dependant,
    get_missing_field_error,
    is_form,
    is_json_field,
    param_aliases,
    request_params_to_args,
)

Where = Literal["path", "query", "header", "cookie"]


class Unplannable(Exception):
    """A shape the plan does not cover: FastAPI's own handler serves the route."""


_IMMUTABLE = (type(None), bool, int, float, str, bytes, tuple, frozenset, Enum)


@dataclass
class Param:
    """One path/query/header/cookie parameter, read as FastAPI reads it, with what FastAPI
    works out per request (is it a sequence? a model?) worked out once."""

    field: ModelField
    where: Where
    alias: str
    kind: Literal["scalar", "sequence", "model", "generic"]
    """`model`: a query model of scalar fields (validated from one dict); `generic`: anything
    else FastAPI reads specially (aliases, sequences in a model, header models): its reader."""

    def read(self, request: Request) -> tuple[Any, list[Any]]:
        received: Any = _RECEIVED[self.where](request)
        if self.kind == "model":
            return self.field.validate(dict(received), {}, loc=(self.where,))
        if self.kind == "generic":
            values, errors = request_params_to_args([self.field], received)
            return values.get(self.field.name), errors
        if self.kind == "sequence":
            found = received.getlist(self.alias) if hasattr(received, "getlist") else None
            value = found if found else Undefined
        else:
            value = received.get(self.alias, Undefined)
        loc = (self.where, self.alias)
        if value is Undefined:
            info = self.field.field_info
            if info.is_required():
                return None, [get_missing_field_error(loc=loc)]
            default = self.field.default
            value = default if isinstance(default, _IMMUTABLE) else deepcopy(default)
            if not info.validate_default:
                return value, []
        return self.field.validate(value, {}, loc=loc)


_RECEIVED: dict[Where, Callable[[Request], Any]] = {
    "path": lambda request: request.path_params,
    "query": lambda request: request.query_params,
    "header": lambda request: request.headers,
    "cookie": lambda request: request.cookies,
}


@dataclass
class Node:
    """A dependant: its providers (by index into the plan's steps) and its own parameters."""

    params: list[tuple[str, Param]] = field(default_factory=list)
    subs: list[tuple[str | None, int]] = field(default_factory=list)
    body: list[ModelField] = field(default_factory=list)
    request: list[str] = field(default_factory=list)
    response: str | None = None
    background: str | None = None
    scopes: tuple[str, SecurityScopes] | None = None


@dataclass
class Step:
    """One provider call: `node` solves its arguments."""

    call: Callable[..., Any]
    node: Node
    kind: Literal["async", "agen", "sync"]
    request_scoped: bool
    hook: bool
    """Its value may be a `ResponseHook` (by its return annotation; unannotated: maybe)."""
    shielded: bool
    """Its exit runs shielded from cancellation (`hooks.shielded`)."""


@dataclass
class Plan:
    steps: list[Step]
    root: Node

    @property
    def takes_response(self) -> bool:
        """Does any provider or the endpoint take the `Response` (to set headers on)?"""
        return self.root.response is not None or any(s.node.response for s in self.steps)


def _param(field_: ModelField, where: Where) -> Param:
    annotation = field_.field_info.annotation
    aliases = param_aliases(field_)
    kind: Literal["scalar", "sequence", "model", "generic"] = "scalar"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        fields = annotation.model_fields.values()
        plain = where == "query" and annotation.model_config.get("extra") in (None, "ignore")
        if plain and not any(
            field_annotation_is_sequence(f.annotation) or f.validation_alias for f in fields
        ):
            kind = "model"
        else:
            kind = "generic"
    elif len(aliases) > 1:
        kind = "generic"
    elif not is_json_field(field_) and field_annotation_is_sequence(annotation):
        kind = "sequence"
    return Param(field_, where, aliases[0][1], kind)


def _scopes(dependant: Dependant) -> list[str]:
    """The OAuth scopes a dependant is solved with (its parents' and its own)."""
    return [*(dependant.parent_oauth_scopes or ()), *(dependant.own_oauth_scopes or ())]


def _kind(call: Callable[..., Any]) -> Literal["async", "agen", "sync"]:
    function = call if inspect.isroutine(call) else getattr(call, "__call__", call)  # noqa: B004
    if inspect.isasyncgenfunction(function):
        return "agen"
    if inspect.isgeneratorfunction(function):
        raise Unplannable("a plain generator dependency")
    return "async" if inspect.iscoroutinefunction(function) else "sync"


def _may_be_hook(call: Callable[..., Any]) -> bool:
    try:
        returns = get_type_hints(call).get("return", Any)
    except Exception:  # an annotation that does not resolve: check the value
        return True
    kinds = get_args(returns) or (returns,)
    return any(k is Any or (isinstance(k, type) and issubclass(k, ResponseHook)) for k in kinds)


def _plan(
    dependant: Dependant,
    overrides: Mapping[Callable[..., Any], Callable[..., Any]],
    steps: list[Step],
    cache: dict[tuple[Any, ...], int],
) -> Node:
    node = Node()
    for sub in dependant.dependencies:
        original = sub.call
        assert original is not None
        call = overrides.get(original, original)
        used = sub
        if call is not original:
            used = get_dependant(
                path=sub.path or "",
                call=call,
                name=sub.name,
                parent_oauth_scopes=_scopes(sub),
                scope=sub.scope,
                concurrency=sub.concurrency,
            )
        if sub.concurrency is not None:
            raise Unplannable("a dependency with a concurrency limit")
        key = (original, tuple(sorted(_scopes(sub))))
        index = cache.get(key) if sub.use_cache else None
        if index is None:
            child = _plan(used, overrides, steps, cache)
            scoped = sub.scope != "function"
            shield = bool(getattr(call, SHIELDED, False))
            steps.append(Step(call, child, _kind(call), scoped, _may_be_hook(call), shield))
            index = len(steps) - 1
            if sub.use_cache:
                cache[key] = index
        node.subs.append((sub.name, index))
    for where, fields in (
        ("path", dependant.path_params),
        ("query", dependant.query_params),
        ("header", dependant.header_params),
        ("cookie", dependant.cookie_params),
    ):
        node.params.extend((f.name, _param(f, where)) for f in fields)  # type: ignore[arg-type]
    node.body = list(dependant.body_params)
    if any(is_form(f) for f in node.body):
        raise Unplannable("a form body")
    if dependant.websocket_param_name:
        raise Unplannable("a websocket")
    node.request = [
        name
        for name in (dependant.request_param_name, dependant.http_connection_param_name)
        if name
    ]
    node.response = dependant.response_param_name
    node.background = dependant.background_tasks_param_name
    if dependant.security_scopes_param_name:
        scopes = SecurityScopes(scopes=_scopes(dependant))
        node.scopes = (dependant.security_scopes_param_name, scopes)
    return node


def build_plan(dependant: Dependant, overrides: Mapping[Any, Any]) -> Plan:
    steps: list[Step] = []
    root = _plan(dependant, overrides, steps, {})
    return Plan(steps, root)


def dependency_calls(dependant: Dependant) -> Sequence[Callable[..., Any]]:
    found: list[Callable[..., Any]] = []
    for sub in dependant.dependencies:
        if sub.call is not None:
            found.append(sub.call)
        found.extend(dependency_calls(sub))
    return found
