"""Query datetimes are ISO 8601 text, as the OpenAPI document says (date or date-time; without
an offset, UTC): a number is not read as a Unix time."""

import pytest
from httpx import AsyncClient

from tests.support.problems import assert_problem

POSTS = "/api/v1/posts"


@pytest.mark.parametrize("value", ["2026-05-01", "2026-05-01T10:00:00", "2026-05-01T10:00:00Z"])
async def test_iso_dates_and_datetimes_are_read(client: AsyncClient, value: str) -> None:
    response = await client.get(POSTS, params={"created_before": value})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("value", ["0.5", "1700000000", "yesterday", "01/05/2026"])
async def test_anything_else_is_a_422(client: AsyncClient, value: str) -> None:
    body = assert_problem(await client.get(POSTS, params={"created_after": value}), 422)
    assert body["errors"][0]["loc"] == ["query", "created_after"]
