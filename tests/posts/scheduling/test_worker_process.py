"""A real service (`python -m service.serve`, JOBS_EMBEDDED=false) and a real worker process
(`python -m service.worker`) at the default poll: a post scheduled 2 s ahead is in `GET /posts`
and on the realtime feed within 1 s of its `publish_at`.

PostgreSQL only: a separate worker is how PostgreSQL is deployed; on SQLite the worker is
embedded (the same loop, covered with real workers by test_race.py) and a second process would
reach the service's feed only through its outbox re-read (REALTIME_POLL_SECONDS)."""

import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from service.kit.model_base import utcnow
from tests.support.api import POSTS, create_post_as, register
from tests.support.job_workers import running_worker
from tests.support.scheduled import scheduled
from tests.support.servers import served
from tests.support.settings import TEST_WEBHOOK_KEY

LATENCY = 1.0
"""At most this long from `publish_at` to the post being visible (seconds)."""


async def _listed(client: httpx.AsyncClient, post_id: int, deadline: datetime) -> datetime:
    """When `GET /posts` first shows the post (polled every 20 ms until `deadline`)."""
    while utcnow() < deadline:
        items = (await client.get(POSTS, params={"limit": 5})).json()["items"]
        if post_id in [item["id"] for item in items]:
            return utcnow()
        await asyncio.sleep(0.02)
    raise AssertionError(f"post {post_id} not listed by {deadline.isoformat()}")


@pytest.mark.postgres_only
@pytest.mark.slow("starts a service and a worker process (~30 s of start-up on a busy machine)")
async def test_a_scheduled_post_appears_within_a_second_of_publish_at(
    backend: str, tmp_path: Path
) -> None:
    env = {"JOBS_EMBEDDED": "false"}
    worker_env = {"WEBHOOK_SECRET_KEY": TEST_WEBHOOK_KEY, "LOG_FORMAT": "json"}
    async with (
        served(backend, tmp_path, env=env) as (service, url),
        running_worker(url, tmp_path / "worker.log", env=worker_env),
        httpx.AsyncClient(base_url=service.url, timeout=5) as client,
        connect(service.feed) as feed,
    ):
        author = await register(client)
        post = await create_post_as(client, author.headers, **scheduled(2.0))
        publish_at = datetime.fromisoformat(post["publish_at"])
        deadline = publish_at.timestamp() + LATENCY
        frame = json.loads(await asyncio.wait_for(feed.recv(), deadline - utcnow().timestamp()))
        pushed = utcnow()
        listed = await _listed(
            client, post["id"], datetime.fromtimestamp(deadline, publish_at.tzinfo)
        )
    assert (frame["type"], frame["post"]["id"], frame["post"]["status"]) == (
        "post.published",
        post["id"],
        "published",
    )
    lags = {
        "feed": (pushed - publish_at).total_seconds(),
        "list": (listed - publish_at).total_seconds(),
    }
    sys.stdout.write(f"\nscheduled-to-visible ({backend}): {lags}\n")
    assert all(0 <= lag <= LATENCY for lag in lags.values()), lags
