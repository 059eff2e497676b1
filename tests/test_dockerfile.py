"""The image's CMD and HEALTHCHECK, exercised outside a container (no Docker engine here)."""

import asyncio
import json
import os
import re
import signal
import sys
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from service.settings import Settings
from tests.support.network import free_port
from tests.support.paths import ROOT
from tests.support.servers import STARTUP_TIMEOUT


def _instruction(name: str) -> list[str]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    match = re.search(rf"^{name}\s+(?:.*?CMD\s+)?(\[.*\])\s*$", text, re.MULTILINE)
    assert match, f"no exec-form {name} in the Dockerfile"
    command: list[str] = json.loads(match.group(1))
    return command


async def test_cmd_serves_and_healthcheck_passes_then_sigterm_stops_it(
    settings: Settings, engine: AsyncEngine
) -> None:
    """`engine` is requested so the test database is migrated: the image never migrates."""
    port = free_port()
    cmd = [str(port) if part == "8000" else part for part in _instruction("CMD")]
    cmd = ["127.0.0.1" if part == "0.0.0.0" else part for part in cmd]
    bin_dir = str(Path(sys.executable).parent)
    env = os.environ | {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "DATABASE_URL": settings.database_url,
        "ENVIRONMENT": "production",
        "JWT_SECRET": "a-production-secret-for-the-entrypoint-test-0123",
        "WEBHOOK_SECRET_KEY": "a-production-webhook-key-for-the-entrypoint-01",
    }
    process = await asyncio.create_subprocess_exec(
        *cmd, cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(int(STARTUP_TIMEOUT / 0.1)):
                try:
                    live = await client.get("/health/live")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError("the CMD never served /health/live")
            assert live.status_code == 200
            assert (await client.get("/health/ready")).status_code == 200

        healthcheck = [part.replace("8000", str(port)) for part in _instruction("HEALTHCHECK")]
        probe = await asyncio.create_subprocess_exec(*healthcheck, env=env)
        assert await asyncio.wait_for(probe.wait(), 10) == 0
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 30)
        assert process.stderr is not None
        errors = (await process.stderr.read()).decode()
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells why it ended.
    assert code in (0, -signal.SIGTERM), errors
    assert "Application shutdown complete" in errors


def test_the_image_trusts_proxy_headers_through_its_environment() -> None:
    """PROXY_HEADERS in the image's ENV, not a flag of its CMD: the environment is the one
    source (service/serve.py reads it), so a deployment changes it without a new command."""
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^\s*(ENV\s+)?PROXY_HEADERS=true\b", text, re.MULTILINE)
    assert not [part for part in _instruction("CMD") if "proxy" in part or "forwarded" in part]
