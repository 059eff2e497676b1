"""Deliveries to real receivers on 127.0.0.1 (allowed by WEBHOOK_ALLOWED_HOSTS in these tests):
signed (verified with the `standardwebhooks` library), in order, retried, timed out, dead-
lettered, and an endpoint failing for days disabled with its owner notified."""

import json
from datetime import datetime, timedelta
from typing import Any

from standardwebhooks.webhooks import Webhook

from service.database.session import DATABASE, own_transaction
from service.jobs.worker import JOBS
from service.kit.model_base import utcnow
from service.webhooks import repository
from service.webhooks.settings import WebhooksSettings
from tests.support.api import POSTS, create_post_as, register
from tests.support.receivers import always_ok, fails_first, hangs, hangs_up, receiver
from tests.support.webhook_app import Hooks, hooks_app
from tests.support.webhooks import WEBHOOKS


async def _endpoint(hooks: Hooks, headers: dict[str, str], url: str, **fields: Any) -> Any:
    payload = {
        "url": url,
        "events": ["post.published", "comment.created", "follower.added", "post.liked"],
        **fields,
    }
    created = await hooks.client.post(WEBHOOKS, json=payload, headers=headers)
    assert created.status_code == 201, created.text
    return created.json()


async def _log(hooks: Hooks, headers: dict[str, str], endpoint_id: int) -> list[Any]:
    response = await hooks.client.get(f"{WEBHOOKS}/{endpoint_id}/deliveries", headers=headers)
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


async def test_every_event_arrives_signed_and_in_order(hooks: Hooks) -> None:
    owner = await register(hooks.client)
    fan = await register(hooks.client)
    async with receiver(always_ok) as target:
        endpoint = await _endpoint(hooks, owner.headers, target.url)
        post = await create_post_as(hooks.client, owner.headers)
        await create_comment_as(hooks, fan.headers, post["id"])
        assert await hooks.client.put(f"/api/v1/users/{owner.id}/follow", headers=fan.headers)
        liked = await hooks.client.put(f"{POSTS}/{post['id']}/like", headers=fan.headers)
        assert liked.status_code == 200
        assert await hooks.deliver() == 4
        verifier = Webhook(endpoint["secret"])
        types = []
        for request in target.requests:
            verifier.verify(request.body, request.headers)  # raises unless the signature holds
            types.append(json.loads(request.body)["type"])
            assert request.headers["host"] == f"127.0.0.1:{target.port}"
        assert types == ["post.published", "comment.created", "follower.added", "post.liked"]
    log = await _log(hooks, owner.headers, endpoint["id"])
    assert [(d["status"], d["response_code"], d["attempts"]) for d in log] == [
        ("succeeded", 200, 1)
    ] * 4
    assert all(d["attempt_log"][0]["outcome"] == "succeeded" for d in log)


async def create_comment_as(hooks: Hooks, headers: dict[str, str], post_id: int) -> None:
    response = await hooks.client.post(
        f"{POSTS}/{post_id}/comments", json={"body": "hi"}, headers=headers
    )
    assert response.status_code == 201, response.text


async def test_a_500_is_retried_and_the_next_delivery_waits_its_turn(hooks: Hooks) -> None:
    owner = await register(hooks.client)
    async with receiver(fails_first) as target:
        endpoint = await _endpoint(hooks, owner.headers, target.url, events=["post.published"])
        first = await create_post_as(hooks.client, owner.headers, title="first")
        second = await create_post_as(hooks.client, owner.headers, title="second")
        deadline = 50  # first: 500, retried shortly; second must not overtake it
        while len(target.requests) < 3 and deadline:
            await hooks.deliver()
            deadline -= 1
        posts = [json.loads(r.body)["data"]["post_id"] for r in target.requests]
        assert posts == [first["id"], first["id"], second["id"]]
    log = await _log(hooks, owner.headers, endpoint["id"])
    oldest = log[-1]
    assert [(a["outcome"], a["response_code"]) for a in oldest["attempt_log"]] == [
        ("failed", 500),
        ("succeeded", 200),
    ]
    assert [d["status"] for d in log] == ["succeeded", "succeeded"]


async def test_a_receiver_that_hangs_times_out(committed: str) -> None:
    assert WebhooksSettings.model_fields["webhook_timeout_seconds"].default == 10.0
    settings = {"webhook_allowed_hosts": ["127.0.0.1"], "webhook_timeout_seconds": 0.5}
    async with hooks_app(committed, **settings) as hooks, receiver(hangs) as target:
        owner = await register(hooks.client)
        endpoint = await _endpoint(hooks, owner.headers, target.url)
        await create_post_as(hooks.client, owner.headers)
        await hooks.deliver()
        [delivery] = await _log(hooks, owner.headers, endpoint["id"])
    assert delivery["status"] == "pending"
    assert delivery["next_attempt_at"] is not None
    attempt = delivery["attempt_log"][0]
    assert attempt["outcome"] == "timeout"
    assert 400 <= attempt["duration_ms"] < 5000


async def test_a_receiver_that_hangs_up_is_an_error_then_dead_after_the_window(
    hooks: Hooks,
) -> None:
    owner = await register(hooks.client)
    async with receiver(hangs_up) as target:
        endpoint = await _endpoint(hooks, owner.headers, target.url)
        await create_post_as(hooks.client, owner.headers)
        await hooks.deliver()
        # 24 hours later (the window is moved, not waited for): the next failure is the last.
        await hooks.execute(
            "UPDATE webhook_deliveries SET expires_at = :past, next_attempt_at = :past",
            past=_hours_ago(1),
        )
        await hooks.deliver()
        [delivery] = await _log(hooks, owner.headers, endpoint["id"])
        assert delivery["status"] == "failed"
        assert [a["outcome"] for a in delivery["attempt_log"]] == ["error", "error"]
        assert len(target.requests) == 2
        # A manual retry sends it again (the receiver still hangs up: one more attempt).
        retry = await hooks.client.post(
            f"{WEBHOOKS}/{endpoint['id']}/deliveries/{delivery['id']}/retry",
            headers=owner.headers,
        )
        assert retry.status_code == 202
        await hooks.deliver()
        assert len(target.requests) == 3


async def test_an_endpoint_failing_for_five_days_is_disabled_and_its_owner_told(
    hooks: Hooks,
) -> None:
    owner = await register(hooks.client)
    async with receiver(lambda _: "500") as target:
        endpoint = await _endpoint(hooks, owner.headers, target.url)
        await create_post_as(hooks.client, owner.headers)
        await hooks.deliver()
        await hooks.execute(
            "UPDATE webhook_endpoints SET failing_since = :then", then=_hours_ago(5 * 24 + 1)
        )
        await hooks.execute(
            "UPDATE webhook_deliveries SET next_attempt_at = :now", now=_hours_ago(0)
        )
        await hooks.deliver()
    read = await hooks.client.get(f"{WEBHOOKS}/{endpoint['id']}", headers=owner.headers)
    assert read.json()["enabled"] is False
    assert "5 days" in read.json()["disabled_reason"]
    notices = await hooks.client.get("/api/v1/users/me/notifications", headers=owner.headers)
    assert [n["type"] for n in notices.json()["items"]] == ["webhook.disabled"]


async def test_the_default_refuses_loopback_at_delivery_time(committed: str) -> None:
    """Registered while 127.0.0.1 was allowed; the next sender runs with the default setting."""
    async with receiver(always_ok) as target:
        async with hooks_app(committed, webhook_allowed_hosts=["127.0.0.1"]) as hooks:
            owner = await register(hooks.client)
            endpoint = await _endpoint(hooks, owner.headers, target.url)
            await create_post_as(hooks.client, owner.headers)
        async with hooks_app(committed) as hooks:
            assert hooks.app.state.settings.webhook_allowed_hosts == []
            await hooks.deliver()
            [delivery] = await _log(hooks, owner.headers, endpoint["id"])
            refused = await hooks.client.post(
                WEBHOOKS,
                json={"url": target.url, "events": ["post.liked"]},
                headers=owner.headers,
            )
            assert refused.status_code == 422
        assert target.requests == []
    assert delivery["attempt_log"][0]["outcome"] == "refused"
    assert delivery["status"] == "pending"


def _hours_ago(hours: float) -> datetime:
    return utcnow() - timedelta(hours=hours)


async def test_a_vanished_senders_claim_goes_again_after_the_default_lease(hooks: Hooks) -> None:
    """The fault test shortens the lease; this is what users get: a delivery claimed by a sender
    that died is claimed again once `webhook_lease_seconds` (default 60 s) has passed."""
    lease = WebhooksSettings.model_fields["webhook_lease_seconds"].default
    assert hooks.app.state.settings.webhook_lease_seconds == lease == 60.0
    owner = await register(hooks.client)
    await _endpoint(hooks, owner.headers, "http://127.0.0.1:9/hook", events=["post.published"])
    await create_post_as(hooks.client, owner.headers, title="claimed, then the sender died")
    await JOBS.of(hooks.app).drain()  # the event becomes a delivery; nothing is sent
    now = utcnow()

    async def claim(at: datetime) -> list[Any]:
        async with own_transaction(DATABASE.of(hooks.app).sessionmaker) as session:
            return await repository.claim(
                session, now=at, lease_until=at + timedelta(seconds=lease), limit=10
            )

    assert len(await claim(now)) == 1  # the sender that then vanished
    assert await claim(now + timedelta(seconds=lease - 1)) == []
    assert len(await claim(now + timedelta(seconds=lease + 1))) == 1
