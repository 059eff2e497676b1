from pathlib import Path

from httpx import ASGITransport, AsyncClient

from service.main import create_app
from tests.support import databases
from tests.support.settings import make_settings


async def test_live_needs_no_database(client: AsyncClient) -> None:
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_when_primary_is_reachable_and_schema_at_head(client: AsyncClient) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200, response.text
    assert response.json()["schema"] == "ok"


async def test_not_ready_on_a_database_without_the_schema(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        await _assert_unready(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
        return
    async with databases.postgres_database("empty") as url:
        await _assert_unready(url)


async def _assert_unready(url: str) -> None:
    app = create_app(make_settings(url))
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app), base_url="http://test") as client,
    ):
        response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
