"""HEAD and 304 over a real socket, from a real server process (`python -m service.serve`):
the bytes on the wire carry the headers of the GET and no body at all, so a keep-alive
connection stays in step (a body after a HEAD or a 304 would be read as the next response)."""

import asyncio
from pathlib import Path

import httpx

from tests.support.api import API, POSTS, register
from tests.support.servers import running_service


async def _exchange(port: int, request: bytes) -> bytes:
    """Send one raw HTTP/1.1 request (`Connection: close`), return every byte the server sent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(-1), timeout=10)
    finally:
        writer.close()


def _split(raw: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


async def test_head_and_304_on_the_wire(service_db: str, tmp_path: Path) -> None:
    async with (
        running_service(service_db, tmp_path / "service.log") as service,
        httpx.AsyncClient(base_url=service.url, timeout=30) as client,
    ):
        author = await register(client)
        created = await client.post(
            POSTS,
            json={"title": "T", "body": "B", "status": "published"},
            headers=author.headers,
        )
        assert created.status_code == 201, created.text
        path = f"{POSTS}/{created.json()['id']}"
        got = await client.get(path)
        tag = got.headers["etag"]

        def request(method: str, extra: str = "") -> bytes:
            lines = f"{method} {path} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n"
            return lines.encode()

        status, headers, body = _split(await _exchange(service.port, request("HEAD")))
        assert status == "HTTP/1.1 200 OK"
        assert body == b""
        assert headers["content-length"] == str(len(got.content))
        assert headers["etag"] == tag
        assert headers["content-type"] == "application/json"

        condition = f"If-None-Match: {tag}\r\n"
        status, headers, body = _split(await _exchange(service.port, request("GET", condition)))
        assert status == "HTTP/1.1 304 Not Modified"
        assert body == b""
        assert headers["etag"] == tag
        assert headers["cache-control"] == "public, max-age=5"
        assert "Cookie" in headers["vary"]

        # One keep-alive connection: HEAD, 304, then a full GET, each answer in step.
        answers = [
            await client.head(path),
            await client.get(path, headers={"If-None-Match": tag}),
            await client.get(path),
            await client.head(f"{API}/posts?limit=1"),
        ]
        assert [a.status_code for a in answers] == [200, 304, 200, 200]
        assert answers[2].content == got.content
