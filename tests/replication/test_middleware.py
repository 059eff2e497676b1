"""ConsistencyMiddleware on its own (no database): the request's one `ReadYourWrites` object,
tokens in, retry of safe requests, 503 for unsafe ones; the tokens a commit issues."""

from fastapi import FastAPI, Request

from service.kit.errors import install_error_handlers
from service.replication.middleware import ConsistencyMiddleware
from service.replication.scope import SCOPE_KEY, ReadYourWrites, ReplicaReadFailed
from service.replication.tokens import COOKIE, HEADER, TokenCodec, TokenIssuer
from tests.support.api import asgi_client

SECRET = "s" * 32


def build() -> tuple[FastAPI, list[bool]]:
    app = FastAPI()
    calls: list[bool] = []
    install_error_handlers(app)
    app.add_middleware(ConsistencyMiddleware, secret=SECRET, retry_after=2)

    @app.get("/flaky")
    async def flaky(request: Request) -> dict[str, bool]:
        forced = ReadYourWrites.of(request.scope).force_primary
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

    @app.get("/seen")
    async def seen(request: Request) -> dict[str, int | None]:
        return {"min_lsn": ReadYourWrites.of(request.scope).min_lsn}

    return app, calls


async def test_a_safe_request_is_retried_once_on_the_primary() -> None:
    app, calls = build()
    async with asgi_client(app) as client:
        response = await client.get("/flaky")
    assert response.status_code == 200
    assert response.json() == {"primary": True}
    assert calls == [False, True]


async def test_a_second_failure_and_unsafe_requests_are_503_never_500() -> None:
    app, _ = build()
    async with asgi_client(app) as client:
        for response in (await client.get("/always"), await client.post("/unsafe")):
            assert response.status_code == 503
            assert response.headers["retry-after"] == "2"
            assert response.headers["content-type"] == "application/problem+json"


async def test_a_valid_token_sets_the_min_lsn_from_header_or_cookie() -> None:
    app, _ = build()
    token = TokenCodec(SECRET).encode(0xABC)
    async with asgi_client(app) as client:
        by_header = await client.get("/seen", headers={HEADER: token})
        by_cookie = await client.get("/seen", headers={"Cookie": f"{COOKIE}={token}"})
    assert by_header.json() == {"min_lsn": 0xABC}
    assert by_cookie.json() == {"min_lsn": 0xABC}


async def test_an_absent_or_forged_token_leaves_no_min_lsn() -> None:
    app, _ = build()
    forged = TokenCodec("other secret " * 3).encode(0xABC)
    async with asgi_client(app) as client:
        for headers in ({}, {HEADER: forged}, {HEADER: "garbage"}):
            response = await client.get("/seen", headers=headers)
            assert response.json() == {"min_lsn": None}, headers
            assert HEADER not in response.headers


def test_a_commit_position_is_issued_as_header_and_cookie() -> None:
    headers = TokenIssuer(SECRET, secure_cookie=False).headers(0x1234)
    token = headers[HEADER]
    assert TokenCodec(SECRET).decode(token) == 0x1234
    cookie = headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}={token};")
    assert "HttpOnly" in cookie
    assert "Secure" not in cookie
    assert "Secure" in TokenIssuer(SECRET, secure_cookie=True).headers(1)["set-cookie"]


def test_the_scope_holds_one_object_under_one_key() -> None:
    scope: dict[str, object] = {}
    context = ReadYourWrites.of(scope)
    assert scope == {SCOPE_KEY: context}
    assert ReadYourWrites.of(scope) is context
    assert (context.min_lsn, context.force_primary) == (None, False)
    assert context.replica is None
