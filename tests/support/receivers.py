"""Real webhook receivers on 127.0.0.1 for the delivery tests: a small asyncio HTTP/1.1 server
that records every request and answers as told (200, 500 then 200, hang, or hang up)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from tests.support.network import free_port

Behaviour = Callable[[int], str]
"""The n-th request (1-based) -> "200", "500", "slow" (200 late), "hang" or "close"."""


def always_ok(_: int) -> str:
    return "200"


def fails_first(n: int) -> str:
    return "500" if n == 1 else "200"


def slow(_: int) -> str:
    return "slow"


def hangs(_: int) -> str:
    return "hang"


def hangs_up(_: int) -> str:
    return "close"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    port: int
    behaviour: Behaviour
    requests: list[Received] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    handlers: set["asyncio.Task[None]"] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def wait_for(self, count: int, within: float = 10.0) -> None:
        async with asyncio.timeout(within):
            while len(self.requests) < count:
                self.arrived.clear()
                await self.arrived.wait()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append(Received(headers, body))
                self.arrived.set()
                answer = self.behaviour(len(self.requests))
                if answer == "hang":
                    await asyncio.sleep(3600)
                if answer == "close":
                    return
                if answer == "slow":  # 200, after long enough for a kill to land mid-request
                    await asyncio.sleep(0.15)
                    answer = "200"
                reason = b"OK" if answer == "200" else b"Server Error"
                writer.write(
                    b"HTTP/1.1 " + answer.encode() + b" " + reason + b"\r\n"
                    b"Content-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            return
        finally:
            self.handlers.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


@asynccontextmanager
async def receiver(behaviour: Behaviour = always_ok) -> AsyncIterator[Receiver]:
    """A receiver listening on 127.0.0.1 until the block ends."""
    port = free_port()
    target = Receiver(port, behaviour)
    server = await asyncio.start_server(target.serve, "127.0.0.1", port)
    try:
        yield target
    finally:
        server.close()
        for task in list(target.handlers):
            task.cancel()
        await asyncio.gather(*target.handlers, return_exceptions=True)
        await server.wait_closed()
