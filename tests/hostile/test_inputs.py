"""The hostile-input table against the real server (`python -m service.serve`) on each backend:
every answer is below 500 and every error is problem+json; afterwards the service still
answers normally (nothing stored poisons later reads, e.g. a `?meta=` query)."""

import asyncio
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.hostile.cases import Case, Target, all_cases
from tests.support.servers import Service, served

API = "/api/v1"
CONCURRENCY = 4


@pytest.fixture
async def service(backend: str, tmp_path: Path) -> AsyncIterator[Service]:
    env = {"LOGIN_RATE_LIMIT": "100000/minute", "LOGIN_ADDRESS_RATE_LIMIT": "100000/minute"}
    async with served(backend, tmp_path, env) as (service, _):
        yield service


async def _account(client: httpx.AsyncClient, name: str) -> tuple[int, dict[str, str]]:
    account = {"username": name, "email": f"{name}@example.com", "password": "p" * 12}
    created = await client.post(f"{API}/users", json=account)
    assert created.status_code == 201, created.text
    form = {"username": account["username"], "password": account["password"]}
    token = (await client.post(f"{API}/auth/token", data=form)).json()["access_token"]
    return created.json()["id"], {"Authorization": f"Bearer {token}"}


async def _target(client: httpx.AsyncClient) -> Target:
    user, headers = await _account(client, "hostile_owner")
    _, spare = await _account(client, "hostile_spare")
    published = {"title": "p", "body": "b", "status": "published", "metadata": {"k": "v"}}
    post = await client.post(f"{API}/posts", json=published, headers=headers)
    draft = await client.post(f"{API}/posts", json={"title": "d", "body": "b"}, headers=headers)
    comment = await client.post(
        f"{API}/posts/{post.json()['id']}/comments", json={"body": "c"}, headers=headers
    )
    assert comment.status_code == 201, comment.text
    return Target(
        post=post.json()["id"],
        draft=draft.json()["id"],
        user=user,
        comment=comment.json()["id"],
        headers=headers,
        spare=spare,
    )


async def _send(client: httpx.AsyncClient, target: Target, case: Case) -> httpx.Response:
    headers = dict(target.headers) if case.authenticated else {}
    if case.content is not None:
        headers["Content-Type"] = case.content_type
    headers |= case.headers
    return await client.request(case.method, API + case.url, content=case.content, headers=headers)


async def test_no_input_gets_a_500(backend: str, service: Service) -> None:
    async with httpx.AsyncClient(base_url=service.url, timeout=60) as client:
        target = await _target(client)
        cases = all_cases(target)
        gate = asyncio.Semaphore(CONCURRENCY)
        failures: list[str] = []
        statuses: Counter[int] = Counter()

        async def run(case: Case) -> None:
            async with gate:
                response = await _send(client, target, case)
            statuses[response.status_code] += 1
            problem = response.headers.get("content-type", "").startswith(
                "application/problem+json"
            )
            if response.status_code >= 500 or (response.status_code >= 400 and not problem):
                failures.append(f"{case.name}: {response.status_code} {response.text[:200]}")

        await asyncio.gather(*(run(case) for case in cases))

        # Nothing stored by the cases poisons what others read afterwards.
        for url in ("/posts?meta=k:v", "/posts?limit=100", "/posts/search?q=b", "/tags"):
            after = await client.get(API + url)
            assert after.status_code == 200, (url, after.text)

    by_class = Counter(f"{status // 100}xx" for status in statuses.elements())
    sys.stdout.write(
        f"\n[hostile {backend}] {len(cases)} cases: {dict(sorted(by_class.items()))};"
        f" statuses {dict(sorted(statuses.items()))}\n"
    )
    assert "unhandled error" not in service.log.read_text(errors="replace")
    assert not failures, "\n".join(failures)
    assert len(cases) >= 1000
