"""`/metrics` parses with the Prometheus text parser and has every family after traffic."""

from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from service.replication.metrics import record_route
from tests.support.accounts import AccountFactory


async def scrape(client: AsyncClient) -> dict[str, Metric]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {family.name: family for family in text_string_to_metric_families(response.text)}


async def test_metrics_after_traffic(
    client: AsyncClient, app: FastAPI, make_account: AccountFactory
) -> None:
    # /health/ready uses the app's own engine: pool and query metrics come from it. (First,
    # before this test's rolled-back transaction holds SQLite's write lock.)
    async with AsyncClient(transport=ASGITransport(app), base_url="http://t") as plain:
        assert (await plain.get("/health/ready")).status_code == 200
    account = await make_account()
    created = await client.post(
        "/api/v1/posts",
        json={"title": "m", "body": "b", "status": "published"},
        headers=account.headers,
    )
    await client.get(f"/api/v1/posts/{created.json()['id']}")
    record_route("replica")
    record_route("primary")

    families = await scrape(client)

    durations = families["http_request_duration_seconds"]
    assert durations.type == "histogram"
    routes = {
        (s.labels["method"], s.labels["route"], s.labels["status"])
        for s in durations.samples
        if s.name.endswith("_count")
    }
    assert ("POST", "/api/v1/posts", "201") in routes
    assert ("GET", "/api/v1/posts/{post_id}", "200") in routes
    assert not any(route.endswith(str(created.json()["id"])) for _, route, _ in routes)

    assert families["http_requests_in_flight"].samples[0].value >= 1  # the scrape itself
    for gauge in ("db_pool_size", "db_pool_checked_out", "db_pool_overflow"):
        assert families[gauge].type == "gauge"
        assert {s.labels["role"] for s in families[gauge].samples} >= {"primary"}
    queries = families["db_query_duration_seconds"]
    assert any(s.name.endswith("_count") and s.value > 0 for s in queries.samples)
    assert families["db_pool_wait_seconds"].type == "histogram"
    routing = {
        s.labels["target"]: s.value
        for s in families["db_route"].samples
        if s.name.endswith("_total")
    }
    assert routing["replica"] >= 1
    assert routing["primary"] >= 1
    for name in (
        "realtime_clients",
        "realtime_dropped_clients",
        "realtime_listener_up",
        "background_task_failures",
    ):
        assert name in families


async def test_pool_size_is_the_configured_one(
    client: AsyncClient, app: FastAPI, backend: str
) -> None:
    # The gauge samples every live engine; an app that shut down no longer counts.
    async with AsyncClient(transport=ASGITransport(app), base_url="http://t") as plain:
        await plain.get("/health/ready")
    families = await scrape(client)
    size = {s.labels["role"]: s.value for s in families["db_pool_size"].samples}
    if backend == "postgresql":
        assert size["primary"] == app.state.settings.db_pool_size
        waits = families["db_pool_wait_seconds"].samples
        assert any(s.name.endswith("_count") and s.value > 0 for s in waits)
