"""405 Method Not Allowed done right, for the whole route table at once.

Starlette routes one method per route and answers 405 with the `Allow` of the first route whose
path matched: `OPTIONS /posts` said `Allow: POST` although `GET /posts` exists. Two fixes here:

- the 405 handler lists every method of the path (`Allow` from all its routes);
- a fixed path never falls into a parameterised sibling: `GET /users/me/profile` (the fixed path
  has only PUT) used to reach `GET /users/{user_id}/profile` and fail as a 422 on "me". For each
  fixed path shadowed this way, one route placed before its sibling answers the sibling's extra
  methods with 405 (built from the route table, so a new route is covered without code here).

A path's methods are those of its most specific template: literal segments win over parameters.
"""

import re
from collections.abc import Sequence

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, compile_path

from service.kit.errors import problem

_PARAM = re.compile(r"^\{[^}]*\}$")


def _shape(template: str) -> tuple[bool, ...]:
    """Per segment: is it a parameter? `/posts/{post_id}` -> (False, False, True)."""
    return tuple(bool(_PARAM.match(segment)) for segment in template.split("/"))


def _shadows(fixed: str, general: str) -> bool:
    """Does `fixed` claim some URLs `general` would match (same length, a literal segment where
    `general` has a parameter, and the same literals elsewhere)?"""
    ours, theirs = fixed.split("/"), general.split("/")
    if len(ours) != len(theirs) or fixed == general:
        return False
    literal_over_param = False
    for mine, other in zip(ours, theirs, strict=True):
        if _PARAM.match(other):
            literal_over_param |= not _PARAM.match(mine)
        elif mine != other:
            return False
    return literal_over_param


class _Guard(Route):
    """Answers 405 for methods of a parameterised sibling; serves nothing itself."""

    def __init__(self, path: str, methods: list[str]) -> None:
        super().__init__(path, _refuse, methods=methods, include_in_schema=False)


async def _refuse(_: Request) -> Response:
    raise HTTPException(405)


def _methods_by_template(routes: Sequence[BaseRoute]) -> dict[str, set[str]]:
    """Every served path template (prefixes of included routers applied), with its methods."""
    table: dict[str, set[str]] = {}
    for context in iter_route_contexts(routes):
        methods, path = context.methods, context.path_format
        if methods and path and not isinstance(context.original_route, _Guard):
            table.setdefault(path, set()).update(methods)
    return table


def allowed_methods(routes: Sequence[BaseRoute], path: str) -> set[str]:
    """The methods of the most specific route template that matches `path`."""
    matching = [
        (_shape(template), methods)
        for template, methods in _methods_by_template(routes).items()
        if compile_path(template)[0].match(path)
    ]
    return min(matching, key=lambda match: match[0])[1] if matching else set()


async def _method_not_allowed(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    allowed = ", ".join(sorted(allowed_methods(request.app.routes, request.url.path)))
    detail = f"{request.method} is not allowed here; allowed: {allowed}."
    return problem(
        405, "Method Not Allowed", detail, slug="method-not-allowed", headers={"Allow": allowed}
    )


def install_method_routing(app: FastAPI) -> None:
    """Call once all routers are included: the 405 handler and the shadow guards."""
    app.add_exception_handler(405, _method_not_allowed)
    routes = app.router.routes
    table = _methods_by_template(routes)
    guards = [
        _Guard(fixed, sorted(extra))
        for fixed, own in table.items()
        for general, theirs in table.items()
        if _shadows(fixed, general)
        and (extra := theirs - own - ({"HEAD"} if "GET" in own else set()))
    ]
    # First in the table: they only ever match a method their path does not serve.
    routes[0:0] = guards
