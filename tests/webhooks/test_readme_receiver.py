"""README "Subscribe to events": its receiver, run as written (a real process), gets a real
delivery and verifies it, and refuses a request that was not signed with the secret."""

import asyncio
import os
import re
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.api import create_post_as, register
from tests.support.network import free_port
from tests.support.paths import ROOT
from tests.support.webhook_app import hooks_app
from tests.support.webhooks import WEBHOOKS


def receiver_source() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("\n## Subscribe to events\n")
    section = text[start : text.index("\n## ", start + 1)]
    source: str
    [source] = re.findall(r"^```python\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)
    return source


async def _listening(port: int) -> None:
    async with httpx.AsyncClient(timeout=1) as client:
        for _ in range(200):
            try:
                await client.get(f"http://127.0.0.1:{port}/")
                return
            except httpx.TransportError:
                await asyncio.sleep(0.05)
    raise AssertionError("the README receiver did not start")


@pytest.mark.sqlite_only
async def test_the_readme_receiver_verifies_a_real_delivery(
    backend: str, committed: str, tmp_path: Path
) -> None:
    script = tmp_path / "receiver.py"
    script.write_text(receiver_source())
    port = free_port()
    async with hooks_app(committed, webhook_allowed_hosts=["127.0.0.1"]) as hooks:
        owner = await register(hooks.client)
        created = await hooks.client.post(
            WEBHOOKS,
            json={"url": f"http://127.0.0.1:{port}/", "events": ["post.published"]},
            headers=owner.headers,
        )
        secret = created.json()["secret"]
        env = os.environ | {"WEBHOOK_SECRET": secret, "PORT": str(port)}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(script),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            await _listening(port)
            post = await create_post_as(hooks.client, owner.headers, title="to the receiver")
            assert await hooks.deliver() == 1
            line = await asyncio.wait_for(process.stdout.readline(), 10)  # type: ignore[union-attr]
            assert line.decode().startswith("post.published ")
            assert f'"post_id": {post["id"]}' in line.decode()
            async with httpx.AsyncClient() as client:
                forged = await client.post(
                    f"http://127.0.0.1:{port}/",
                    content=b"{}",
                    headers={
                        "webhook-id": "msg_x",
                        "webhook-timestamp": "1",
                        "webhook-signature": "v1,AAAA",
                    },
                )
            assert forged.status_code == 400
        finally:
            process.kill()
            await process.wait()
        log = await hooks.client.get(
            f"{WEBHOOKS}/{created.json()['id']}/deliveries", headers=owner.headers
        )
        assert log.json()["items"][0]["response_code"] == 204
