"""Security headers on every response (errors and 500s too); CORS closed unless configured."""

from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from service.kit.http.middleware import API_CSP, DOCS_CSP, HSTS
from service.main import create_app
from service.settings import Settings
from tests.support.accounts import AccountFactory
from tests.support.settings import TEST_WEBHOOK_KEY, make_settings

BASE = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def _assert_secure(response: Any, csp: str = API_CSP) -> None:
    for name, value in BASE.items():
        assert response.headers.get(name) == value, (name, response.request.url)
    assert response.headers["content-security-policy"] == csp


async def test_every_kind_of_response_has_the_headers(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    account = await make_account()
    responses = [
        await client.get("/health/live"),
        await client.get("/api/v1/users"),
        await client.get("/api/v1/posts/987654"),  # 404
        await client.get("/api/v1/posts", params={"limit": 1000}),  # 422
        await client.get("/api/v1/users/me"),  # 401
        await client.put("/api/v1/users/me"),  # 405
        await client.get("/no/such/route"),  # router 404
        await client.post(
            "/api/v1/posts", json={"title": "t", "body": "b"}, headers=account.headers
        ),
        await client.get("/openapi.json"),
    ]
    for response in responses:
        _assert_secure(response)
        assert "strict-transport-security" not in response.headers  # not in test/dev


async def test_docs_get_a_policy_that_lets_them_load(client: AsyncClient) -> None:
    for path in ("/docs", "/redoc"):
        response = await client.get(path)
        assert response.status_code == 200
        _assert_secure(response, DOCS_CSP)
        assert "frame-ancestors 'none'" in DOCS_CSP


async def test_no_shared_cache_keeps_an_authenticated_answer(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    """The full policy is tested in tests/kit/test_http_caching.py."""
    account = await make_account()
    me = await client.get("/api/v1/users/me", headers=account.headers)
    assert me.headers["cache-control"] == "private, no-cache"
    refused = await client.get("/api/v1/users/me", headers={"Authorization": "Bearer x"})
    assert refused.headers["cache-control"] == "no-store"
    public = await client.get("/api/v1/users")
    assert public.headers["cache-control"].startswith("public, max-age=")


def _app(backend_url: str, **overrides: Any) -> FastAPI:
    return create_app(make_settings(backend_url, **overrides))


async def _get(app: FastAPI, path: str, **options: Any) -> Any:
    transport = ASGITransport(app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(options.pop("method", "GET"), path, **options)


async def test_production_adds_hsts_and_unhandled_errors_carry_headers() -> None:
    production = Settings(
        database_url="sqlite+aiosqlite://",
        environment="production",
        webhook_secret_key=TEST_WEBHOOK_KEY,
        jwt_secret="p" * 40,
    )
    app = create_app(production)

    async def boom() -> None:
        raise RuntimeError("internal detail that must not leak")

    app.add_api_route("/boom", boom)
    live = await _get(app, "/health/live")
    assert live.headers["strict-transport-security"] == HSTS
    crashed = await _get(app, "/boom")
    assert crashed.status_code == 500
    assert "internal detail" not in crashed.text
    _assert_secure(crashed)
    assert crashed.headers["strict-transport-security"] == HSTS


PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type",
}


async def test_cors_is_closed_by_default() -> None:
    app = _app("sqlite+aiosqlite://")
    origin = {"Origin": "https://evil.example"}
    response = await _get(app, "/health/live", headers=origin)
    assert "access-control-allow-origin" not in response.headers
    preflight = await _get(app, "/api/v1/posts", method="OPTIONS", headers={**origin, **PREFLIGHT})
    assert "access-control-allow-origin" not in preflight.headers


@pytest.mark.parametrize(
    ("origin", "allowed"), [("https://app.example", True), ("https://evil.example", False)]
)
async def test_cors_allows_only_configured_origins(origin: str, allowed: bool) -> None:
    app = _app("sqlite+aiosqlite://", cors_origins="https://app.example, https://admin.example")
    headers = {"Origin": origin, **PREFLIGHT}
    preflight = await _get(app, "/api/v1/posts", method="OPTIONS", headers=headers)
    simple = await _get(app, "/health/live", headers={"Origin": origin})
    if allowed:
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == origin
        assert simple.headers["access-control-allow-origin"] == origin
    else:
        assert preflight.status_code == 400
        assert "access-control-allow-origin" not in simple.headers
    _assert_secure(preflight)


async def test_cors_speaks_the_headers_each_package_declares() -> None:
    """Kit's own headers, then idempotency's and replication's, handed in by `main.py`."""
    app = _app("sqlite+aiosqlite://", cors_origins="https://app.example")
    asked = "authorization, if-match, idempotency-key, x-consistency-token"
    preflight = await _get(
        app,
        "/api/v1/posts",
        method="OPTIONS",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": asked,
        },
    )
    simple = await _get(app, "/health/live", headers={"Origin": "https://app.example"})
    assert preflight.status_code == 200
    assert simple.headers["access-control-expose-headers"] == (
        "ETag, Location, Retry-After, Idempotent-Replayed, X-Consistency-Token"
    )
