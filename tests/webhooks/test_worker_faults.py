"""A real worker process (`python -m service.worker`) SIGKILLed mid-delivery, again and again:
every event still arrives at least once, in order per endpoint, and the log shows every attempt
(an attempt cut short stays `sending`).

Figures: `.venv/bin/pytest tests/webhooks/test_worker_faults.py -s -p no:cacheprovider` prints
events, deliveries, requests received, duplicates, order violations and attempts logged."""

import asyncio
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.support.api import register
from tests.support.databases import query_rows
from tests.support.migrations import backend_database
from tests.support.receivers import Receiver, receiver, slow
from tests.support.servers import running_service, start_worker
from tests.support.webhooks import WEBHOOKS

ENDPOINTS, EVENTS, KILLS = 3, 20, 3
FAST = {
    "JOBS_EMBEDDED": "false",
    "JOBS_LEASE_SECONDS": "2",
    "JOBS_POLL_SECONDS": "0.2",
    "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
    "WEBHOOK_TIMEOUT_SECONDS": "2",
    "WEBHOOK_LEASE_SECONDS": "3",
    "WEBHOOK_BACKOFF_SECONDS": "0.2",
    "WEBHOOK_BACKOFF_MAX_SECONDS": "0.5",
    "WEBHOOK_POLL_SECONDS": "0.1",
}


def _order_violations(received: list[str], expected: list[str]) -> int:
    """Requests that arrived after a later message of the same endpoint had arrived."""
    position = {message: i for i, message in enumerate(expected)}
    highest, violations = -1, 0
    for message in received:
        if position[message] < highest:
            violations += 1
        highest = max(highest, position[message])
    return violations


@pytest.mark.slow("SIGKILLs a real worker process mid-delivery several times, both backends")
async def test_sigkill_mid_delivery_loses_nothing_and_keeps_the_order(
    backend: str, tmp_path: Path
) -> None:
    async with (
        backend_database(backend, tmp_path, "faults") as url,
        running_service(url, tmp_path / "service.log", env=FAST) as svc,
        httpx.AsyncClient(base_url=svc.url) as client,
    ):
        owner = await register(client)
        receivers: list[Receiver] = []
        async with receiver(slow) as r0, receiver(slow) as r1, receiver(slow) as r2:
            receivers = [r0, r1, r2][:ENDPOINTS]
            for target in receivers:
                created = await client.post(
                    WEBHOOKS,
                    json={"url": target.url, "events": ["post.published"]},
                    headers=owner.headers,
                )
                assert created.status_code == 201, created.text
            items = [
                {"title": f"event {i}", "body": "b", "status": "published"} for i in range(EVENTS)
            ]
            bulk = await client.post(
                "/api/v1/posts/bulk", json={"items": items}, headers=owner.headers
            )
            assert bulk.status_code == 201, bulk.text

            def total() -> int:
                return sum(len(r.requests) for r in receivers)

            log = tmp_path / "worker.log"
            for kill in range(KILLS):
                worker = await start_worker(url, log, env=FAST)
                goal = total() + 8
                for _ in range(3000):  # up to 30 s for the restarted worker to get going
                    if total() >= goal:
                        break
                    await asyncio.sleep(0.01)
                await asyncio.sleep(0.05 * (kill % 3))  # land at different points of a request
                worker.send_signal(signal.SIGKILL)
                await worker.wait()
            worker = await start_worker(url, log, env=FAST)
            try:
                deadline = time.monotonic() + 90
                done_sql = "SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded'"
                while time.monotonic() < deadline:
                    if (await query_rows(url, done_sql))[0][0] == ENDPOINTS * EVENTS:
                        break
                    await asyncio.sleep(0.3)
            finally:
                worker.send_signal(signal.SIGTERM)
                await asyncio.wait_for(worker.wait(), 20)
        deliveries = await query_rows(
            url, "SELECT endpoint_id, message_id, status FROM webhook_deliveries ORDER BY id"
        )
        attempts = await query_rows(
            url,
            "SELECT d.message_id, a.outcome FROM webhook_attempts a"
            " JOIN webhook_deliveries d ON d.id = a.delivery_id",
        )
    expected: dict[int, list[str]] = {}
    for endpoint_id, message_id, _ in deliveries:
        expected.setdefault(int(str(endpoint_id)), []).append(str(message_id))
    logged = Counter(str(message) for message, _ in attempts)
    interrupted = sum(1 for _, outcome in attempts if outcome == "sending")
    requests = duplicates = violations = short_logs = 0
    for target, messages in zip(receivers, expected.values(), strict=True):
        received = [r.headers["webhook-id"] for r in target.requests]
        requests += len(received)
        duplicates += len(received) - len(set(received))
        violations += _order_violations(received, messages)
        assert set(received) == set(messages), "an event was never delivered"
        seen = Counter(received)
        short_logs += sum(1 for m in messages if logged[m] < seen[m])
    sys.stdout.write(
        f"\nwebhook faults [{backend}]: {KILLS} SIGKILLs, {EVENTS} events x {ENDPOINTS}"
        f" endpoints = {len(deliveries)} deliveries, requests received {requests},"
        f" duplicates {duplicates}, order violations {violations}, attempts logged"
        f" {len(attempts)} (cut short by a kill: {interrupted})\n"
    )
    assert len(deliveries) == ENDPOINTS * EVENTS
    assert all(status == "succeeded" for *_, status in deliveries)
    assert violations == 0
    assert short_logs == 0, "a request arrived that the log does not show"
