"""Request ids, one JSON access line per request, user id when known, slow-query log."""

import json
import logging
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import text

from service.database.engines import create_engine
from service.observability.context import accept_request_id
from service.observability.logging import (
    ConsoleFormatter,
    JsonFormatter,
    configure_logging,
    log_format,
)
from service.settings import Settings
from tests.support.accounts import AccountFactory
from tests.support.settings import TEST_WEBHOOK_KEY, make_settings


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    formatter = JsonFormatter()
    return [json.loads(formatter.format(r)) for r in caplog.records if r.name == "inkwell.access"]


async def test_request_id_is_generated_and_echoed(client: AsyncClient) -> None:
    response = await client.get("/health/live")
    request_id = response.headers["X-Request-ID"]
    assert len(request_id) == 32
    assert request_id.isalnum()


async def test_valid_request_id_is_kept(client: AsyncClient) -> None:
    response = await client.get("/health/live", headers={"X-Request-ID": "req-123.abc:9_Z"})
    assert response.headers["X-Request-ID"] == "req-123.abc:9_Z"


@pytest.mark.parametrize("bad", ["x" * 129, "has space", "semi;colon", "ünïcode", ""])
async def test_unsafe_request_id_is_replaced(client: AsyncClient, bad: str) -> None:
    response = await client.get("/health/live", headers={b"X-Request-ID": bad.encode()})
    echoed = response.headers["X-Request-ID"]
    assert echoed != bad
    assert accept_request_id(echoed) == echoed


async def test_errors_and_unknown_routes_carry_the_id(client: AsyncClient) -> None:
    missing = await client.get("/nope", headers={"X-Request-ID": "r404"})
    too_big = await client.post(
        "/api/v1/posts", content=b"x" * (1024 * 1024 + 10), headers={"X-Request-ID": "r413"}
    )
    assert (missing.status_code, missing.headers["X-Request-ID"]) == (404, "r404")
    assert too_big.headers["X-Request-ID"] == "r413"


async def test_one_json_access_line_per_request(
    client: AsyncClient, make_account: AccountFactory, caplog: pytest.LogCaptureFixture
) -> None:
    account = await make_account()
    caplog.set_level(logging.INFO, logger="inkwell.access")
    created = await client.post(
        "/api/v1/posts",
        json={"title": "t", "body": "b", "status": "published"},
        headers=account.headers | {"X-Request-ID": "create-1"},
    )
    post_id = created.json()["id"]
    await client.get(f"/api/v1/posts/{post_id}", headers={"X-Request-ID": "read-1"})

    lines = access_lines(caplog)
    assert [line["request_id"] for line in lines] == ["create-1", "read-1"]
    create, read = lines
    assert create["route"] == "/api/v1/posts"
    assert (create["method"], create["status"], create["user_id"]) == ("POST", 201, account.id)
    assert read["route"] == "/api/v1/posts/{post_id}"
    assert read["path"] == f"/api/v1/posts/{post_id}"
    assert "user_id" not in read  # anonymous
    assert read["duration_ms"] >= 0
    assert read["level"] == "info"
    assert read["logger"] == "inkwell.access"


async def test_logs_inside_a_request_carry_its_id(
    client: AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await client.get("/nope", headers={"X-Request-ID": "ctx-1"})
    inside = [r for r in caplog.records if r.name == "inkwell.access"]
    outside = [r for r in caplog.records if r.name == "httpx"]
    assert [getattr(r, "request_id", None) for r in inside] == ["ctx-1"]
    assert all(not hasattr(r, "request_id") for r in outside)


async def test_slow_query_log_has_statement_without_parameters(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    slow = make_settings(settings.database_url, db_slow_query_ms=0)
    engine = create_engine(slow.database_url, slow, role="slowtest")
    caplog.set_level(logging.WARNING, logger="inkwell.db.slow")
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT :secret AS x"), {"secret": "hunter2-value"})
    finally:
        await engine.dispose()
    records = [r for r in caplog.records if r.name == "inkwell.db.slow"]
    line = json.loads(JsonFormatter().format(records[-1]))
    assert "SELECT" in line["statement"]
    assert "hunter2-value" not in json.dumps(line)
    assert line["duration_ms"] >= 0
    assert line["role"] == "slowtest"


def test_console_in_development_json_elsewhere() -> None:
    dev = Settings(environment="development", _env_file=None)
    prod = Settings(
        environment="production",
        webhook_secret_key=TEST_WEBHOOK_KEY,
        jwt_secret="p" * 40,
        _env_file=None,
    )
    forced = Settings(environment="development", log_format="json", _env_file=None)
    assert (log_format(dev), log_format(prod), log_format(forced)) == ("console", "json", "json")
    record = logging.makeLogRecord({"name": "x", "msg": "hello", "levelname": "INFO"})
    record.route = "/r"
    assert "hello" in ConsoleFormatter().format(record)
    assert "route=/r" in ConsoleFormatter().format(record)


def test_configure_logging_is_idempotent() -> None:
    settings = Settings(environment="test", _env_file=None)
    configure_logging(settings)
    configure_logging(settings)
    ours = [h for h in logging.getLogger().handlers if type(h).__name__ == "_InkwellHandler"]
    assert len(ours) == 1
    assert isinstance(ours[0].formatter, JsonFormatter)
