"""HTTP helpers shared by the container tests."""

import asyncio
import time

import httpx

PASSWORD = "correct horse battery"


async def register(client: httpx.AsyncClient, name: str) -> dict[str, str]:
    """A new user through the API (201); returns its bearer header."""
    body = {"username": name, "email": f"{name}@example.org", "password": PASSWORD}
    created = await client.post("/api/v1/users", json=body)
    assert created.status_code == 201, created.text
    token = await client.post("/api/v1/auth/token", data={"username": name, "password": PASSWORD})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def wait_ready(url: str, seconds: float = 60) -> float:
    """Poll `url`/health/ready until 200; returns the seconds waited."""
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=url, timeout=2) as client:
        while time.monotonic() - started < seconds:
            try:
                if (await client.get("/health/ready")).status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} not ready after {seconds} s")
