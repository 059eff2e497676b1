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
from types import SimpleNamespace
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.datastructures import URLPath
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, NoMatchFound, compile_path
from starlette.types import Receive, Scope, Send

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


_NO_MATCH: tuple[Match, Scope] = (Match.NONE, {})  # routers ignore the scope of a non-match


class _ShadowGuard(BaseRoute):
    """Answers 405 for the methods a fixed path would lose to a parameterised sibling. First in
    the route table, so it costs every request one dict look-up (literal paths) and nothing
    else; it matches only a method its path does not serve."""

    def __init__(self, refused: dict[str, set[str]]) -> None:
        self.literal = {path: methods for path, methods in refused.items() if "{" not in path}
        self.templated = [
            (compile_path(path)[0], path, methods)
            for path, methods in refused.items()
            if "{" in path
        ]

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return _NO_MATCH
        path = template = scope["path"]
        if (root := scope.get("root_path")) and path.startswith(root):
            path = template = path[len(root) :]
        methods = self.literal.get(path)
        if methods is None:
            for regex, template, methods in self.templated:  # noqa: B007 (used below)
                if regex.match(path):
                    break
            else:
                return _NO_MATCH
        if scope["method"] not in methods:
            return _NO_MATCH
        # The access log and metrics label the request with the route's template.
        return Match.FULL, {"route": SimpleNamespace(path_format=template)}

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise HTTPException(405)


def _methods_by_template(routes: Sequence[BaseRoute]) -> dict[str, set[str]]:
    """Every served path template (prefixes of included routers applied), with its methods."""
    table: dict[str, set[str]] = {}
    for context in iter_route_contexts(routes):
        methods, path = context.methods, context.path_format
        if methods and path:
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
    table = _methods_by_template(app.router.routes)
    refused: dict[str, set[str]] = {}
    for fixed, own in table.items():
        for general, theirs in table.items():
            extra = theirs - own
            if extra and _shadows(fixed, general):
                refused.setdefault(fixed, set()).update(extra)
    if refused:
        app.router.routes.insert(0, _ShadowGuard(refused))
