"""HTTP semantics of reads (service/kit/http/caching.py, docs/http.md): HEAD on every GET,
strong ETags that follow the representation, 304s, Cache-Control and Vary."""

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient, Response
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route

from service.kit.http.caching import HttpCaching
from service.kit.http.etags import match, none_match, strong_etag
from tests.support.accounts import AccountFactory
from tests.support.api import API, POSTS, create_post
from tests.support.webhooks import create_endpoint

# Headers that differ between two answers to the same request by nature.
_PER_RESPONSE = {"date", "x-request-id", "server", "ratelimit-remaining", "ratelimit-reset"}


def _fill(path: str, ids: dict[str, Any]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), path)


async def test_every_get_in_the_openapi_answers_head(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    author = await make_account()
    post = await create_post(client, author, tags=["x"])
    comment = await client.post(
        f"{POSTS}/{post['id']}/comments", json={"body": "b"}, headers=author.headers
    )
    edit = await client.patch(f"{POSTS}/{post['id']}", json={"title": "v2"}, headers=author.headers)
    assert edit.status_code == 200  # the post's revision 1
    ids = {
        "post_id": post["id"],
        "user_id": author.id,
        "comment_id": comment.json()["id"],
        "number": 1,
        "name": "x",
        "endpoint_id": (await create_endpoint(client, author))["id"],
    }
    schema = (await client.get("/openapi.json")).json()
    gets = [(path, item["get"]) for path, item in schema["paths"].items() if "get" in item]
    assert len(gets) > 20
    for path, operation in gets:
        query = {
            p["name"]: "x"
            for p in operation.get("parameters", [])
            if p["in"] == "query" and p.get("required")
        }
        url = _fill(path, ids)
        got = await client.get(url, params=query, headers=author.headers)
        head = await client.head(url, params=query, headers=author.headers)
        assert head.status_code == got.status_code, (path, head.status_code, got.text)
        assert head.content == b"", path
        assert _comparable(head) == _comparable(got), path
    # ... and outside the API too: the docs, the OpenAPI document, the probes.
    for path in ("/openapi.json", "/docs", "/health/live"):
        head = await client.head(path)
        assert head.status_code == 200, path
        assert head.content == b""
        assert head.headers["content-length"] == (await client.get(path)).headers["content-length"]


def _comparable(response: Response) -> dict[str, str]:
    headers = {k: v for k, v in response.headers.items() if k not in _PER_RESPONSE}
    if "etag" not in headers:  # a body that changes by itself (an export's timestamps...)
        headers.pop("content-length", None)
    return headers


async def test_a_post_has_a_strong_etag_that_follows_its_representation(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    author, fan = await make_account(), await make_account()
    post = await create_post(client, author)
    url = f"{POSTS}/{post['id']}"
    first = await client.get(url)
    tag = first.headers["etag"]
    assert tag == strong_etag(first.content)
    assert re.fullmatch(r'"[0-9a-f]{32}"', tag)
    assert (await client.get(url)).headers["etag"] == tag  # stable while nothing changes
    assert (await client.put(f"{url}/like", headers=fan.headers)).status_code == 200
    client.cookies.clear()  # the write's consistency cookie would make the next reads private
    liked = await client.get(url)
    assert liked.json()["version"] == post["version"]
    assert liked.headers["etag"] != tag  # the like changed the body, so the tag

    current = liked.headers["etag"]
    for header in (current, f"W/{current}", f'"other", {current}', "*", f'W/"x",W/{current}'):
        cached = await client.get(url, headers={"If-None-Match": header})
        assert cached.status_code == 304, header
        assert cached.content == b""
        assert cached.headers["etag"] == current
        assert cached.headers["cache-control"].startswith("public, max-age=")
        assert "Authorization" in cached.headers["vary"]
        assert "content-type" not in cached.headers
    for header in (tag, f"W/{tag}", '"nope"', "W/W/W/*", "garbage"):
        stale = await client.get(url, headers={"If-None-Match": header})
        assert stale.status_code == 200, header
        assert stale.content == liked.content
    head = await client.head(url, headers={"If-None-Match": current})
    assert head.status_code == 304
    assert head.content == b""


@pytest.mark.parametrize("kind", ["posts", "comments", "replies", "users", "top", "tags"])
async def test_list_pages_carry_etags_and_answer_304(
    client: AsyncClient, make_account: AccountFactory, kind: str
) -> None:
    author = await make_account()
    post = await create_post(client, author, tags=["listed"])
    comments = f"{POSTS}/{post['id']}/comments"
    parent = (await client.post(comments, json={"body": "c"}, headers=author.headers)).json()
    replies = f"{API}/comments/{parent['id']}/replies"
    url = {
        "posts": f"{POSTS}?author_id={author.id}",
        "comments": comments,
        "replies": replies,
        "users": f"{API}/users",
        "top": f"{POSTS}/top",
        "tags": f"{API}/tags",
    }[kind]
    page = await client.get(url)
    tag = page.headers["etag"]
    assert tag == strong_etag(page.content)
    assert (await client.get(url, headers={"If-None-Match": tag})).status_code == 304
    # A change to what the page shows changes its tag.
    if kind in ("comments", "replies"):
        body = {"body": "more", **({"parent_id": parent["id"]} if kind == "replies" else {})}
        await client.post(comments, json=body, headers=author.headers)
    else:
        await create_post(client, await make_account(), tags=["listed"])
        await client.patch(
            f"{POSTS}/{post['id']}", json={"title": "Changed"}, headers=author.headers
        )
    changed = await client.get(url, headers={"If-None-Match": tag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != tag


async def test_cache_control_and_vary(client: AsyncClient, make_account: AccountFactory) -> None:
    author = await make_account()
    post = await create_post(client, author)
    url = f"{POSTS}/{post['id']}"
    client.cookies.clear()  # the consistency cookie of the write above
    anonymous = await client.get(url)
    assert anonymous.headers["cache-control"] == "public, max-age=5"
    vary = [v.strip() for v in anonymous.headers["vary"].split(",")]
    assert {"Authorization", "Cookie", "X-Consistency-Token"} <= set(vary)
    for personal in (
        author.headers,
        {"X-Consistency-Token": "anything"},
        {"Cookie": "theme=dark; consistency_token=anything"},
    ):
        response = await client.get(url, headers=personal)
        assert response.status_code == 200
        assert response.headers["cache-control"] == "private, no-cache", personal
        assert "etag" in response.headers
    other_cookie = await client.get(url, headers={"Cookie": "theme=dark"})
    assert other_cookie.headers["cache-control"] == "public, max-age=5"
    # Errors and writes are never stored: a 404 is heuristically cacheable otherwise.
    missing = await client.get(f"{POSTS}/999999999")
    assert missing.status_code == 404
    assert missing.headers["cache-control"] == "no-store"
    assert "etag" not in missing.headers
    write = await client.patch(url, json={"title": "t"}, headers=author.headers)
    assert write.headers["cache-control"] == "no-store"
    for probe in ("/health/live", "/health/ready", "/metrics"):
        live = await client.get(probe)
        assert live.headers["cache-control"] == "no-store", probe
        assert "etag" not in live.headers


def test_etag_comparisons() -> None:
    tag = strong_etag(b"{}")
    assert match(tag, tag)
    assert match("*", tag)
    assert match(f'"a", {tag}', tag)
    assert not match(f"W/{tag}", tag)
    assert not match('"a"', tag)
    assert none_match(tag, tag)
    assert none_match(f"W/{tag}", tag)
    assert none_match(" * ", tag)
    assert not none_match('"a", W/"b"', tag)


# --- the layer alone, on a small app ------------------------------------------------------


async def _stream() -> AsyncIterator[bytes]:
    for chunk in (b"one,", b"two,", b"three"):
        yield chunk


def _routes(request: Request) -> Any:
    kind = request.path_params["kind"]
    if kind == "stream":
        return StreamingResponse(_stream(), media_type="text/plain")
    if kind == "own":
        return PlainTextResponse("x", headers={"Cache-Control": "no-store", "Vary": "Origin"})
    if kind == "public":
        return PlainTextResponse("x", headers={"Cache-Control": "public, max-age=60"})
    return PlainTextResponse("plain")


@pytest.fixture
async def layer() -> AsyncIterator[AsyncClient]:
    app = Starlette(routes=[Route("/{kind}", _routes, methods=["GET", "POST"])])
    cached = HttpCaching(
        app, max_age=42, personal_headers=("Authorization",), personal_cookie="session"
    )
    async with AsyncClient(transport=ASGITransport(cached), base_url="http://t") as client:
        yield client


async def test_streamed_bodies_pass_through_without_a_validator(layer: AsyncClient) -> None:
    streamed = await layer.get("/stream")
    assert streamed.content == b"one,two,three"
    assert "etag" not in streamed.headers
    assert streamed.headers["cache-control"] == "public, max-age=42"
    head = await layer.head("/stream")
    assert head.status_code == 200
    assert head.content == b""


async def test_a_routes_own_policy_is_kept_but_never_public_for_a_personal_read(
    layer: AsyncClient,
) -> None:
    own = await layer.get("/own")
    assert own.headers["cache-control"] == "no-store"
    assert own.headers["vary"] == "Origin, Authorization, Cookie"
    assert "etag" not in own.headers  # a no-store answer needs no validator
    public = await layer.get("/public")
    assert public.headers["cache-control"] == "public, max-age=60"
    personal = await layer.get("/public", headers={"Authorization": "Bearer t"})
    assert personal.headers["cache-control"] == "private, no-cache"
    assert (await layer.get("/own", headers={"Cookie": "session=1"})).headers[
        "cache-control"
    ] == "no-store"
    plain = await layer.get("/plain")
    assert plain.headers["cache-control"] == "public, max-age=42"
    assert plain.headers["etag"] == strong_etag(b"plain")
    written = await layer.post("/plain")
    assert written.headers["cache-control"] == "no-store"
    assert "vary" not in written.headers
    assert "etag" not in written.headers
