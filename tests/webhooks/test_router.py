"""The webhook endpoints API in process (both backends): create with a secret shown once,
sealed at rest; list, read, change, delete; URLs that point inward are a 422."""

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.webhooks.secrets import SecretBox
from tests.support.accounts import AccountFactory
from tests.support.problems import assert_problem
from tests.support.settings import TEST_WEBHOOK_KEY
from tests.support.statements import StatementCounter
from tests.support.webhooks import HOSTILE_URLS, PUBLIC_URL, WEBHOOKS, create_endpoint


async def test_the_secret_is_shown_once_and_sealed_at_rest(
    client: AsyncClient,
    make_account: AccountFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    owner = await make_account()
    created = await create_endpoint(client, owner, events=["post.liked"], description="mine")
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert (created["url"], created["events"], created["enabled"]) == (
        PUBLIC_URL,
        ["post.liked"],
        True,
    )
    read = await client.get(f"{WEBHOOKS}/{created['id']}", headers=owner.headers)
    assert read.status_code == 200
    assert "secret" not in read.json()
    async with sessionmaker() as session:
        query = text("SELECT sealed_secret FROM webhook_endpoints WHERE id = :id")
        connection = await session.connection()
        sealed = (await connection.execute(query, {"id": created["id"]})).scalar_one()
    assert secret not in sealed
    assert secret.removeprefix("whsec_") not in sealed
    assert SecretBox(TEST_WEBHOOK_KEY).open(sealed, owner_id=owner.id) == secret
    with pytest.raises(ValueError, match="does not open"):
        SecretBox(TEST_WEBHOOK_KEY).open(sealed, owner_id=owner.id + 1)
    with pytest.raises(ValueError, match="does not open"):
        SecretBox("another-key-0123456789-0123456789-01").open(sealed, owner_id=owner.id)


async def test_list_change_and_delete(client: AsyncClient, make_account: AccountFactory) -> None:
    owner, other = await make_account(), await make_account()
    made = [await create_endpoint(client, owner) for _ in range(3)]
    await create_endpoint(client, other)
    first = await client.get(WEBHOOKS, params={"limit": 2}, headers=owner.headers)
    assert first.status_code == 200
    body = first.json()
    rest = await client.get(
        WEBHOOKS, params={"limit": 2, "cursor": body["next_cursor"]}, headers=owner.headers
    )
    ids = [e["id"] for e in body["items"] + rest.json()["items"]]
    assert ids == sorted((m["id"] for m in made), reverse=True)
    assert rest.json()["next_cursor"] is None

    url = f"{WEBHOOKS}/{made[0]['id']}"
    changed = await client.patch(
        url,
        json={"events": ["follower.added", "follower.added"], "description": None},
        headers=owner.headers,
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["events"], changed.json()["description"]) == (["follower.added"], None)
    assert_problem(await client.patch(url, json={"url": None}, headers=owner.headers), 422)
    off = await client.patch(url, json={"enabled": False}, headers=owner.headers)
    assert off.json()["enabled"] is False
    assert (await client.delete(url, headers=owner.headers)).status_code == 204
    assert_problem(await client.get(url, headers=owner.headers), 404)


async def test_unknown_events_and_fields_are_refused(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    owner = await make_account()
    for payload in (
        {"url": PUBLIC_URL, "events": ["post.deleted"]},
        {"url": PUBLIC_URL, "events": []},
        {"url": PUBLIC_URL, "events": ["post.liked"], "secret": "whsec_mine"},
    ):
        assert_problem(await client.post(WEBHOOKS, json=payload, headers=owner.headers), 422)
    assert_problem(await client.post(WEBHOOKS, json={"url": PUBLIC_URL, "events": ["x"]}), 401)


@pytest.mark.parametrize("url", HOSTILE_URLS)
async def test_a_url_pointing_inward_is_refused_at_registration(
    client: AsyncClient, make_account: AccountFactory, url: str
) -> None:
    owner = await make_account()
    response = await client.post(
        WEBHOOKS, json={"url": url, "events": ["post.liked"]}, headers=owner.headers
    )
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["loc"][-1] == "url"
    assert url not in response.text  # a 422 never echoes the value
    endpoint = await create_endpoint(client, owner)
    changed = await client.patch(
        f"{WEBHOOKS}/{endpoint['id']}", json={"url": url}, headers=owner.headers
    )
    assert_problem(changed, 422)


async def test_ping_queues_a_delivery_in_the_log(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    owner = await make_account()
    endpoint = await create_endpoint(client, owner)
    ping = await client.post(f"{WEBHOOKS}/{endpoint['id']}/test", headers=owner.headers)
    assert ping.status_code == 202, ping.text
    assert (ping.json()["event_type"], ping.json()["status"]) == ("webhook.ping", "pending")
    log = await client.get(f"{WEBHOOKS}/{endpoint['id']}/deliveries", headers=owner.headers)
    assert [d["id"] for d in log.json()["items"]] == [ping.json()["id"]]
    missing = await client.post(
        f"{WEBHOOKS}/{endpoint['id']}/deliveries/999999/retry", headers=owner.headers
    )
    assert_problem(missing, 404)


async def test_the_delivery_log_runs_a_constant_number_of_statements(
    client: AsyncClient, make_account: AccountFactory, statements: StatementCounter
) -> None:
    owner = await make_account()
    endpoint = await create_endpoint(client, owner)
    url = f"{WEBHOOKS}/{endpoint['id']}/deliveries"

    async def counted() -> int:
        statements.count = 0
        assert (await client.get(url, headers=owner.headers)).status_code == 200
        return statements.count

    await client.post(f"{WEBHOOKS}/{endpoint['id']}/test", headers=owner.headers)
    one = await counted()
    for _ in range(5):
        await client.post(f"{WEBHOOKS}/{endpoint['id']}/test", headers=owner.headers)
    assert await counted() == one
