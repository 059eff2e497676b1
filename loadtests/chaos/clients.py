"""The clients' vocabulary: one context, one recorded request, users, posts and token reads."""

import asyncio
import contextlib
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from loadtests.chaos.history import History, now

API = "/api/v1"
TOKEN = "X-Consistency-Token"
TIMEOUT = 20.0
"""A request with no answer after this is a hang: the checker reports it."""
RETRY_SECONDS = 120.0
"""A writer retries one Idempotency-Key this long at most."""
ANSWER_FACTS = ("id", "version", "liked", "like_count", "count")


@dataclass
class Known:
    """An acknowledged post a reader may check: the token of its last write and that version."""

    post_id: int
    token: str | None
    version: int


@dataclass
class Client:
    name: str
    user_id: int
    auth: dict[str, str]
    http: httpx.AsyncClient
    instance: int


@dataclass
class Context:
    apps: list[str]
    history: History
    rng: random.Random
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    known: dict[int, Known] = field(default_factory=dict)
    feed_last: dict[str, int] = field(default_factory=dict)
    feed_stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def call(
        self,
        client: Client,
        op: str,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        **facts: Any,
    ) -> tuple[int | None, dict[str, Any], httpx.Headers]:
        """One request to the client's current instance, recorded; (status, JSON body, headers)."""
        instance = client.instance
        start = now()
        status: int | None = None
        answer: dict[str, Any] = {}
        received = httpx.Headers()
        error = None
        try:
            response = await client.http.request(
                method, f"{self.apps[instance]}{path}", headers=headers, json=body
            )
            status, received = response.status_code, response.headers
            with contextlib.suppress(ValueError):
                parsed = response.json()
                answer = parsed if isinstance(parsed, dict) else {}
        except httpx.TimeoutException as exc:
            error = f"timeout: {type(exc).__name__}"
        except httpx.TransportError as exc:
            error = f"transport: {type(exc).__name__}"
        if status is None or status >= 500:
            client.instance = 1 - instance  # the other instance next time
        self.history.append(
            "op",
            client=client.name,
            op=op,
            start=start,
            end=now(),
            instance=instance,
            method=method,
            path=path,
            status=status,
            error=error,
            retry_after=received.get("Retry-After"),
            sent_token=bool(headers and TOKEN in headers),
            answer={k: answer[k] for k in ANSWER_FACTS if k in answer},
            **facts,
        )
        return status, answer, received


async def register(ctx: Context, name: str, http: httpx.AsyncClient, instance: int) -> Client:
    """A user through the API (POST /users, POST /auth/token), before any fault."""
    password = "chaos-horse-battery-staple"
    user = {"username": name, "email": f"{name}@example.com", "password": password}
    created = await http.post(f"{ctx.apps[0]}{API}/users", json=user)
    created.raise_for_status()
    login = await http.post(
        f"{ctx.apps[0]}{API}/auth/token", data={"username": name, "password": password}
    )
    login.raise_for_status()
    auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
    return Client(name, int(created.json()["id"]), auth, http, instance)


async def create_post(ctx: Context, client: Client) -> Known | None:
    """POST /posts with one Idempotency-Key, retried (same key) on hangs, 409s and 503s."""
    key = uuid.uuid4().hex
    payload = {"title": f"chaos {key}", "body": "chaos body", "status": "published"}
    headers = client.auth | {"Idempotency-Key": key}
    deadline = now() + RETRY_SECONDS
    while True:
        status, answer, received = await ctx.call(
            client, "create", "POST", f"{API}/posts", headers=headers, body=payload, key=key
        )
        if status == 201:
            known = Known(int(answer["id"]), received.get(TOKEN), int(answer["version"]))
            ctx.known[known.post_id] = known
            return known
        if status not in (None, 409, 503) or now() > deadline:
            ctx.history.append("abandoned", client=client.name, key=key, at=now())
            return None
        await asyncio.sleep(retry_after(received, 0.3))


def retry_after(headers: httpx.Headers, default: float) -> float:
    """The server's Retry-After, capped at 2 s (the run is short), else `default`."""
    with contextlib.suppress(TypeError, ValueError):
        return min(float(headers.get("Retry-After", default)), 2.0)
    return default


async def read_with_token(
    ctx: Context, client: Client, known: Known, op: str = "read_token"
) -> tuple[int | None, dict[str, Any], httpx.Headers]:
    """GET /posts/{id} carrying the token of its last write: it must be there, that version on."""
    headers = client.auth | ({TOKEN: known.token} if known.token else {})
    return await ctx.call(
        client,
        op,
        "GET",
        f"{API}/posts/{known.post_id}",
        headers=headers,
        post=known.post_id,
        expect_version=known.version if known.token else None,
    )
