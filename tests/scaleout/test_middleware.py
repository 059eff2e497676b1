"""ConsistencyMiddleware on its own: retry of safe requests, 503 for unsafe ones (no database)."""

from fastapi import FastAPI, Request
from httpx import ASGITransport, AsyncClient

from service.kit.errors import install_error_handlers
from service.replication.middleware import ConsistencyMiddleware
from service.replication.scope import FORCE_PRIMARY, ReplicaReadFailed


def build() -> tuple[FastAPI, list[bool]]:
    app = FastAPI()
    calls: list[bool] = []
    install_error_handlers(app)
    app.add_middleware(ConsistencyMiddleware, secret="s" * 32, secure_cookie=False, retry_after=2)

    @app.get("/flaky")
    async def flaky(request: Request) -> dict[str, bool]:
        forced = bool(request.scope.get(FORCE_PRIMARY))
        calls.append(forced)
        if not forced:
            raise ReplicaReadFailed("replica-0: conflict")
        return {"primary": forced}

    @app.get("/always")
    async def always() -> None:
        raise ReplicaReadFailed("replica-0: down")

    @app.post("/unsafe")
    async def unsafe() -> None:
        raise ReplicaReadFailed("replica-0: down")

    return app, calls


async def test_a_safe_request_is_retried_once_on_the_primary() -> None:
    app, calls = build()
    async with AsyncClient(transport=ASGITransport(app), base_url="http://t") as client:
        response = await client.get("/flaky")
    assert response.status_code == 200
    assert response.json() == {"primary": True}
    assert calls == [False, True]


async def test_a_second_failure_and_unsafe_requests_are_503_never_500() -> None:
    app, _ = build()
    async with AsyncClient(transport=ASGITransport(app), base_url="http://t") as client:
        for response in (await client.get("/always"), await client.post("/unsafe")):
            assert response.status_code == 503
            assert response.headers["retry-after"] == "2"
            assert response.headers["content-type"] == "application/problem+json"
