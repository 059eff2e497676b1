"""The route class: plans match FastAPI's own handler, overrides are honoured, internals pinned."""

import ast
import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar

import anyio
import fastapi
import pydantic
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, Response
from fastapi.routing import APIRoute
from httpx import ASGITransport, AsyncClient
from pydantic import BaseModel, Field

from service.kit.http.routing import PINNED, Answered, Route, api_routes, shielded
from service.main import create_app
from tests.support.settings import make_settings

SERVICE = Path(__file__).resolve().parents[3] / "service"
ROUTING = SERVICE / "kit" / "http" / "routing.py"
INTERNAL = (
    *("fastapi.dependencies", "fastapi.routing", "fastapi._", "fastapi.utils", "fastapi.params"),
    "pydantic._internal",
)


def test_the_internals_it_uses_are_those_of_the_installed_versions() -> None:
    assert fastapi.__version__ == PINNED["fastapi"]
    assert PINNED["pydantic"] == pydantic.VERSION


def test_the_check_sees_the_internals_routing_takes() -> None:
    """The rule above would pass vacuously if it could not see them where they are."""
    source = ROUTING.read_text(encoding="utf-8")
    for module in ("fastapi.dependencies.utils", "fastapi._compat", "fastapi.routing"):
        assert f"from {module} import" in source, module
    assert "__pydantic_" in source


def test_no_other_module_reaches_into_fastapi_or_pydantic_internals() -> None:
    """Imports of FastAPI's or pydantic's internal modules or private names, and pydantic's
    private attributes (`__pydantic_*__`), only in service/kit/http/routing.py."""
    offenders = []
    for path in SERVICE.rglob("*.py"):
        if path == ROUTING:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
                if node.module.startswith(("fastapi", "pydantic", "starlette")):
                    private = [a.name for a in node.names if a.name.startswith("_")]
                    names += [f"__private__ {node.module}.{name}" for name in private]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            if isinstance(node, ast.Attribute | ast.Constant):
                name = node.attr if isinstance(node, ast.Attribute) else node.value
                if isinstance(name, str) and name.startswith("__pydantic_"):
                    names.append(name)
            refused = (*INTERNAL, "__pydantic_", "__private__")
            offenders += [f"{path}: {n}" for n in names if n.startswith(refused)]
    assert offenders == []


def test_every_api_route_of_the_app_is_planned(tmp_path: Path) -> None:
    app = create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path / 'plan.db'}"))
    routes = api_routes(app.routes)
    assert routes
    assert all(isinstance(r, Route) for r in routes), [r.path for r in routes]
    unplanned = sorted(r.path for r in routes if not r.planned)  # type: ignore[attr-defined]
    assert unplanned == ["/auth/token"]  # a form body: FastAPI's own handler


class Filters(BaseModel):
    limit: Annotated[int, Field(ge=1, le=50)] = 10
    tag: str | None = None


class Item(BaseModel):
    name: Annotated[str, Field(min_length=1)]
    size: int = 1


T = TypeVar("T")


class Box(BaseModel, Generic[T]):
    items: list[T]
    size: int


EVENTS: list[str] = []


async def provider(request: Request) -> str:
    return request.headers.get("x-who", "nobody")


async def session() -> AsyncIterator[str]:
    EVENTS.append("open")
    try:
        yield "session"
    except Exception as error:
        EVENTS.append(f"rollback:{type(error).__name__}")
        raise
    else:
        EVENTS.append("commit")


Who = Annotated[str, Depends(provider)]
Session = Annotated[str, Depends(session, scope="function")]


def build(route_class: type[APIRoute]) -> FastAPI:
    router = APIRouter(route_class=route_class)

    @router.get("/items/{item_id:id}")
    async def read(
        item_id: Annotated[int, fastapi.Path(ge=1, le=1000)],
        who: Who,
        db: Session,
        filters: Annotated[Filters, Query()],
        x_trace: Annotated[str | None, Header(max_length=8)] = None,
    ) -> dict[str, Any]:
        EVENTS.append("endpoint")
        return {"id": item_id, "who": who, "db": db, "f": filters.model_dump(), "t": x_trace}

    @router.post("/items", status_code=201, response_model=Item)
    async def create(item: Item, who: Who, db: Session, response: Response) -> Item:
        response.headers["Location"] = f"/items/{item.name}"
        if item.name == "boom":
            raise ValueError("boom")
        if item.name == "known":
            raise Answered(Response(b"replayed", 200))
        return item

    @router.get("/boxes", response_model=Box[Item])
    async def boxes() -> Box[Item]:
        return Box(items=[Item(name="a"), Item(name="b", size=3)], size=2)  # the generic origin

    @router.get("/plain")
    async def plain(q: Annotated[list[str] | None, Query()] = None) -> list[str]:
        return q or []

    app = FastAPI()
    app.include_router(router)
    return app


JSON = {"content-type": "application/json"}
REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/items/5", {}),
    ("GET", "/items/5?limit=3&tag=x", {"headers": {"x-who": "ann", "x-trace": "t1"}}),
    ("GET", "/items/0", {}),
    ("GET", "/items/5?limit=0", {}),
    ("GET", "/items/5?limit=abc&tag=x&tag=y", {}),
    ("GET", "/items/5?limit=2&limit=7&tag=&other=1", {"headers": {"X-Trace": ""}}),
    ("GET", "/items/5", {"headers": {"x-trace": "far-too-long"}}),
    ("GET", "/items/x", {}),
    ("POST", "/items", {"json": {"name": "a", "size": 2}}),
    ("POST", "/items", {"json": {"name": ""}}),
    ("POST", "/items", {"json": {"size": "big"}}),
    ("POST", "/items", {"content": b"{not json", "headers": {"content-type": "application/json"}}),
    ("POST", "/items", {"content": b'{"name": "a"}', "headers": {"content-type": "text/plain"}}),
    ("POST", "/items", {}),
    (
        "POST",
        "/items",
        {"content": b"[" * 100_000, "headers": {"content-type": "application/json"}},
    ),
    (
        "POST",
        "/items",
        {"content": b'{"name": "\xff"}', "headers": {"content-type": "application/json"}},
    ),
    ("GET", "/boxes", {}),
    ("GET", "/plain?q=a&q=b", {}),
    ("GET", "/plain", {}),
]


async def answer(app: FastAPI, method: str, url: str, options: dict[str, Any]) -> Any:
    async with AsyncClient(transport=ASGITransport(app), base_url="http://test") as client:
        response = await client.request(method, url, **options)
    return response.status_code, response.json(), response.headers.get("location")


@pytest.mark.parametrize(("method", "url", "options"), REQUESTS)
async def test_a_planned_route_answers_exactly_as_fastapi(
    method: str, url: str, options: dict[str, Any]
) -> None:
    EVENTS.clear()
    ours = await answer(build(Route), method, url, options)
    ours_events = list(EVENTS)
    EVENTS.clear()
    assert ours == await answer(build(APIRoute), method, url, options)
    assert ours_events == EVENTS


async def test_a_yield_provider_sees_the_endpoints_error_and_exits_before_the_answer() -> None:
    EVENTS.clear()
    with pytest.raises(ValueError, match="boom"):
        await answer(build(Route), "POST", "/items", {"json": {"name": "boom"}})
    assert EVENTS == ["open", "rollback:ValueError"]


async def test_an_answered_request_sends_the_answer_and_rolls_back() -> None:
    EVENTS.clear()
    app = build(Route)
    async with AsyncClient(transport=ASGITransport(app), base_url="http://test") as client:
        response = await client.post("/items", json={"name": "known"})
    assert (response.status_code, response.content) == (200, b"replayed")
    assert EVENTS == ["open", "rollback:Answered"]


async def test_overrides_are_honoured_with_their_own_dependencies() -> None:
    app = build(Route)

    async def as_tester(x_who: Annotated[str, Header()] = "?") -> str:
        return f"tester:{x_who}"

    async def fake_session() -> str:
        return "fake"

    app.dependency_overrides[provider] = as_tester
    app.dependency_overrides[session] = fake_session
    status, body, _ = await answer(app, "GET", "/items/7", {"headers": {"x-who": "bo"}})
    assert (status, body["who"], body["db"]) == (200, "tester:bo", "fake")
    app.dependency_overrides.clear()
    status, body, _ = await answer(app, "GET", "/items/7", {"headers": {"x-who": "bo"}})
    assert (body["who"], body["db"]) == ("bo", "session")


@pytest.mark.parametrize("shield", [True, False])
async def test_only_a_shielded_exit_outlives_a_cancelled_request(shield: bool) -> None:
    """Cancelled by a cancel scope (a timeout, a task group) while a provider exits."""
    finished: list[str] = []

    async def held() -> AsyncIterator[str]:
        yield "value"
        await asyncio.sleep(0.2)  # the exit's own work (a COMMIT)
        finished.append("exit")

    provider = shielded(held) if shield else held
    router = APIRouter(route_class=Route)

    @router.get("/held")
    async def endpoint(
        value: Annotated[str, Depends(provider, scope="function")],
    ) -> dict[str, str]:
        return {"value": value}

    app = FastAPI()
    app.include_router(router)
    with anyio.move_on_after(0.05) as scope:  # fires inside the exit
        await answer(app, "GET", "/held", {})
    assert scope.cancel_called  # the deadline passed during the exit
    assert finished == (["exit"] if shield else [])
