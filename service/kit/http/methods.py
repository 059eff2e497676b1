"""405 Method Not Allowed done right, for the whole route table at once.

Starlette answers 405 with the `Allow` of the first route whose path matched; here `Allow` lists
every method of the path, those of its most specific template (ids are typed in paths)."""

import re
from collections.abc import Sequence

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, compile_path

from service.kit.errors import problem
from service.kit.http.routing import route_table

_PARAM = re.compile(r"^\{[^}]*\}$")


def _shape(template: str) -> tuple[bool, ...]:
    """Per segment: is it a parameter? `/posts/{post_id}` -> (False, False, True)."""
    return tuple(bool(_PARAM.match(segment)) for segment in template.split("/"))


def allowed_methods(routes: Sequence[BaseRoute], path: str) -> set[str]:
    """The methods of the most specific route template that matches `path`."""
    matching = [
        (_shape(template), methods)
        for template, methods in route_table(routes).items()
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
    """The 405 handler (`Allow` lists every method of the path)."""
    app.add_exception_handler(405, _method_not_allowed)
