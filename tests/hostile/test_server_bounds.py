"""The server's own bounds, against the real process (`python -m service.serve`): request heads
over 16 KiB get 431 and the connection closed without buffering them, a head that arrives too
slowly (slowloris) or not at all is disconnected, and a client that does not read its response
is dropped after the send timeout, which gives the memory back."""

import asyncio
import contextlib
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.processes import open_sockets, rss_bytes
from tests.support.servers import Service, served

MiB = 1024 * 1024
HEAD_TIMEOUT = 2.0
SEND_TIMEOUT = 2.0
ENV = {
    "HTTP_HEADER_TIMEOUT_SECONDS": str(HEAD_TIMEOUT),
    "HTTP_SEND_TIMEOUT_SECONDS": str(SEND_TIMEOUT),
}


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    async with served("sqlite", tmp_path, ENV) as (service, _):
        yield service


async def _exchange(service: Service, head: bytes) -> tuple[bytes, bytes]:
    """Send `head`; the response, then what follows it (b"" once the server closed)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
    try:
        writer.write(head)
        await writer.drain()
        response = await asyncio.wait_for(reader.read(65536), 10)
        rest = await asyncio.wait_for(reader.read(), 10)
    finally:
        await _close(writer)
    return response, rest


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


def _head(header_bytes: int) -> bytes:
    return (
        b"GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: "
        + b"a" * header_bytes
        + b"\r\n\r\n"
    )


async def test_a_head_over_16_kib_is_431_and_the_connection_closed(service: Service) -> None:
    response, rest = await _exchange(service, _head(15 * 1024))
    assert response.startswith(b"HTTP/1.1 200")
    response, rest = await _exchange(service, _head(17 * 1024))
    assert response.startswith(b"HTTP/1.1 431")
    assert b"application/problem+json" in response
    assert rest == b""


async def _flood(service: Service, total: int) -> int:
    """Send an unterminated head of `total` bytes; how many the kernel took before the server
    closed the connection."""
    _, writer = await asyncio.open_connection("127.0.0.1", service.port)
    sent = 0
    chunk = b"GET / HTTP/1.1\r\nX-Flood: " + b"a" * (64 * 1024)
    try:
        while sent < total:
            writer.write(chunk)
            await writer.drain()
            sent += len(chunk)
            chunk = b"a" * (64 * 1024)
    except ConnectionError:
        pass
    finally:
        await _close(writer)
    return sent


async def test_unterminated_huge_heads_hold_no_memory(service: Service) -> None:
    """Ten 32 MiB heads and one of 64 MiB (uvicorn alone accepted them, holding +382 MB)."""
    before = rss_bytes(service.process.pid)
    peak = before
    floods = [asyncio.create_task(_flood(service, 32 * MiB)) for _ in range(10)]
    floods.append(asyncio.create_task(_flood(service, 64 * MiB)))
    started = time.monotonic()
    while not all(f.done() for f in floods):
        peak = max(peak, rss_bytes(service.process.pid))
        await asyncio.sleep(0.02)
    elapsed = time.monotonic() - started
    sent = [f.result() for f in floods]
    sys.stdout.write(
        f"\n[bounds] 10 x 32 MiB + 64 MiB unterminated heads: closed after {max(sent) / MiB:.1f}"
        f" MiB at most, in {elapsed:.2f} s; server RSS {before / MiB:.0f} -> peak"
        f" {peak / MiB:.0f} MiB\n"
    )
    assert max(sent) < 16 * MiB  # closed long before the end (kernel buffers take a few MiB)
    assert peak - before < 16 * MiB
    async with httpx.AsyncClient(base_url=service.url) as client:
        assert (await client.get("/health/live")).status_code == 200


async def _slowloris(service: Service, *, trickle: bool) -> tuple[float, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
    started = time.monotonic()
    received = b""
    if trickle:
        writer.write(b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    try:
        while time.monotonic() - started < HEAD_TIMEOUT * 5:
            if trickle:
                writer.write(b"a")
                await writer.drain()
            try:
                data = await asyncio.wait_for(reader.read(4096), 0.25)
            except TimeoutError:
                continue
            received += data
            if not data:
                break
    except ConnectionError:
        pass
    finally:
        await _close(writer)
    return time.monotonic() - started, received


async def test_slow_and_silent_clients_are_disconnected(service: Service) -> None:
    slow = [_slowloris(service, trickle=True) for _ in range(20)]
    silent = [_slowloris(service, trickle=False) for _ in range(20)]
    results = await asyncio.gather(*slow, *silent)
    times = [elapsed for elapsed, _ in results]
    sys.stdout.write(
        f"\n[bounds] 20 slowloris + 20 silent connections closed after"
        f" {min(times):.2f}-{max(times):.2f} s (HTTP_HEADER_TIMEOUT_SECONDS={HEAD_TIMEOUT:g})\n"
    )
    assert all(HEAD_TIMEOUT - 0.1 < elapsed < HEAD_TIMEOUT + 1.5 for elapsed in times)
    assert all(received.startswith(b"HTTP/1.1 408") for _, received in results[:20])
    assert all(received == b"" for _, received in results[20:])


async def _big_page(service: Service) -> str:
    """100 posts of ~95 KB each: GET /posts?limit=100 answers ~9.5 MB."""
    async with httpx.AsyncClient(base_url=service.url, timeout=60) as client:
        account = {"username": "reader", "email": "r@example.com", "password": "p" * 12}
        assert (await client.post("/api/v1/users", json=account)).status_code == 201
        form = {"username": "reader", "password": "p" * 12}
        token = (await client.post("/api/v1/auth/token", data=form)).json()["access_token"]
        post = {"title": "big", "body": "b" * 95_000, "status": "published"}
        for _ in range(10):
            created = await client.post(
                "/api/v1/posts/bulk",
                json={"items": [post] * 10},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert created.status_code == 201, created.text
        page = await client.get("/api/v1/posts?limit=100")
        assert len(page.content) > 9 * MiB
    return "/api/v1/posts?limit=100"


async def test_clients_that_do_not_read_are_dropped_and_memory_returns(service: Service) -> None:
    path = await _big_page(service)
    pid = service.process.pid
    before, baseline = rss_bytes(pid), open_sockets(pid)
    sockets = []
    for _ in range(20):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", service.port))
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        sockets.append(sock)
    peak, held = before, 0
    started = time.monotonic()
    # Dropped = the server closed its end (its sockets back to the baseline).
    while time.monotonic() - started < 90:
        peak = max(peak, rss_bytes(pid))
        held = max(held, open_sockets(pid) - baseline)
        if held and open_sockets(pid) <= baseline:
            break
        await asyncio.sleep(0.05)
    elapsed = time.monotonic() - started
    # The buffers are freed with the connections; how much the allocator hands back to the
    # system, and when, varies: wait a little for it (bounded).
    after = rss_bytes(pid)
    for _ in range(50):
        if after - before < (peak - before) * 0.75:
            break
        await asyncio.sleep(0.1)
        after = rss_bytes(pid)
    received = []
    for sock in sockets:
        sock.settimeout(10)
        total = 0
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(1 << 20):
                total += len(chunk)
        received.append(total)
        sock.close()
    sys.stdout.write(
        f"\n[bounds] 20 clients not reading a 9.5 MB page: all dropped {elapsed:.1f} s after"
        f" the requests (HTTP_SEND_TIMEOUT_SECONDS={SEND_TIMEOUT:g}), each got at most"
        f" {max(received) / MiB:.1f} MiB; server RSS {before / MiB:.0f} -> peak"
        f" {peak / MiB:.0f} -> {after / MiB:.0f} MiB\n"
    )
    assert held >= 10  # sampled: most of the 20 were seen open before the drop
    assert SEND_TIMEOUT <= elapsed < 90
    assert all(total < 9 * MiB for total in received)  # cut off, not served in full
    assert after - before < (peak - before) * 0.75
    async with httpx.AsyncClient(base_url=service.url) as client:
        assert (await client.get("/health/live")).status_code == 200
