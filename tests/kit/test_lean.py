"""`LeanRoute` (service/kit/http/lean.py) answers exactly what FastAPI's own route answers for the
same signature: the same values reach the endpoint, the same 422s (status and body) come back,
and the OpenAPI operation is the same. What it cannot serve is refused when the route is built."""

import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse
from httpx import ASGITransport, AsyncClient
from pydantic import BaseModel, Field

from service.kit.errors import install_error_handlers
from service.kit.http.lean import LeanRoute, check_lean_routes
from service.kit.schemas import IdPath, UtcDateTime


class Search(BaseModel):
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    q: Annotated[str | None, Field(min_length=1, max_length=5)] = None
    after: UtcDateTime | None = None
    kind: Annotated[str, Field(alias="type")] = "any"


async def endpoint(
    item_id: IdPath, request: Request, search: Annotated[Search, Query()]
) -> JSONResponse:
    """Echoes what it was given, typed."""
    seen = search.model_dump(mode="json", by_alias=True)
    return JSONResponse({"id": item_id, "search": seen, "path": request.url.path})


def app_with(route_class: type[Any], call: Callable[..., Any] = endpoint) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    router = APIRouter(route_class=route_class)
    router.add_api_route("/items/{item_id}", call, methods=["GET"])
    app.include_router(router)
    return app


QUERIES = [
    "/items/7",
    "/items/7?limit=5&q=abc&after=2026-01-02&type=post",
    "/items/7?limit=1&limit=9",  # a repeated key: the last value
    "/items/7?unknown=1",
    "/items/7?kind=post",  # a field name that is not its alias
    "/items/7?after=2026-01-02T10:00:00%2B02:00",
    "/items/x",
    "/items/1.0",
    "/items/9223372036854775808",
    "/items/7?limit=0",
    "/items/7?limit=abc&q=toolong",
    "/items/7?after=1700000000",
    "/items/x?limit=101&q=",
]


@pytest.mark.parametrize("url", QUERIES)
async def test_a_lean_route_answers_what_fastapi_answers(url: str) -> None:
    answers = []
    for route_class in (LeanRoute, APIRouter().route_class):
        app = app_with(route_class)
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client:
            response = await client.get(url)
        answers.append((response.status_code, response.json()))
    assert answers[0] == answers[1]


async def test_a_query_datetime_reaches_the_endpoint_as_utc() -> None:
    transport = ASGITransport(app=app_with(LeanRoute))
    async with AsyncClient(transport=transport, base_url="http://t") as client:
        body = (await client.get("/items/7?after=2026-01-02T10:00:00%2B02:00")).json()
    assert datetime.fromisoformat(body["search"]["after"]) == datetime.fromisoformat(
        "2026-01-02T08:00:00+00:00"
    )


def test_its_openapi_operation_is_fastapis() -> None:
    lean, plain = (app_with(c).openapi() for c in (LeanRoute, APIRouter().route_class))
    assert json.dumps(lean, sort_keys=True) == json.dumps(plain, sort_keys=True)


class Tags(BaseModel):
    tag: list[str] = []


async def with_dependency(
    item_id: IdPath, user: Annotated[str, Depends(lambda: "u")]
) -> JSONResponse:
    raise AssertionError("never served")  # pragma: no cover


async def with_header(item_id: IdPath, x_key: Annotated[str, Header()]) -> JSONResponse:
    raise AssertionError("never served")  # pragma: no cover


async def with_scalar_query(item_id: IdPath, limit: int = 20) -> JSONResponse:
    raise AssertionError("never served")  # pragma: no cover


async def with_list_field(item_id: IdPath, tags: Annotated[Tags, Query()]) -> JSONResponse:
    raise AssertionError("never served")  # pragma: no cover


async def returning_a_model(item_id: IdPath) -> Search:
    raise AssertionError("never served")  # pragma: no cover


def plain_def(item_id: IdPath) -> JSONResponse:
    raise AssertionError("never served")  # pragma: no cover


@pytest.mark.parametrize(
    ("call", "refused"),
    [
        (with_dependency, "dependencies"),
        (with_header, "header parameters"),
        (with_scalar_query, "query parameters other than one query model"),
        (with_list_field, "repeatable query parameters (tag"),
        (returning_a_model, "a return type other than a Response"),
        (plain_def, "a plain def"),
    ],
)
def test_what_a_lean_route_cannot_serve_is_refused_when_built(
    call: Callable[..., Any], refused: str
) -> None:
    with pytest.raises(TypeError, match="cannot be a LeanRoute") as caught:
        app_with(LeanRoute, call)
    assert refused in str(caught.value)


def test_dependencies_added_where_a_lean_router_is_included_are_refused() -> None:
    router = APIRouter(route_class=LeanRoute)
    router.add_api_route("/items/{item_id}", endpoint, methods=["GET"])
    app = FastAPI()
    app.include_router(router, dependencies=[Depends(lambda: None)])
    with pytest.raises(TypeError, match="dependencies"):
        check_lean_routes(app)
