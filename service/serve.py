"""The one way the service is served: `python -m service.serve` (`make run`, the image, tests).

uvicorn (uvloop + httptools) with a protocol that bounds what uvicorn does not: the request
head's size (431) and arrival time (408), and a client that stops reading (abort); proxy headers
follow PROXY_HEADERS / FORWARDED_ALLOW_IPS (docs/security.md)."""

import argparse
import json
import logging
import os
from asyncio import TimerHandle, Transport
from dataclasses import dataclass
from functools import lru_cache

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service.settings import get_settings

log = logging.getLogger("uvicorn.error")


@dataclass(frozen=True)
class Bounds:
    max_header_bytes: int
    header_timeout: float
    send_timeout: float


@lru_cache
def bounds() -> Bounds:
    """Read once per process from the settings (the environment): every worker agrees."""
    settings = get_settings()
    return Bounds(
        settings.http_max_header_bytes,
        settings.http_header_timeout_seconds,
        settings.http_send_timeout_seconds,
    )


def _problem(status: int, reason: str, detail: str) -> bytes:
    body = json.dumps(
        {"type": f"/problems/{reason.lower().replace(' ', '-')}", "title": reason}
        | {"status": status, "detail": detail}
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/problem+json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class _HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing a head over the limit."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bounded head size, head time and send time."""

    _reading_head = True
    _head_bytes = 0
    _head_timer: TimerHandle | None = None
    _send_timer: TimerHandle | None = None

    def connection_made(self, transport: Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._bounds = bounds()
        self._expect_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._reading_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._reading_head and self._head_bytes > self._bounds.max_header_bytes:
            self._refuse_head()

    def send_400_response(self, msg: str) -> None:
        # uvicorn answers every parser error with a 400; ours (`_HeadTooLarge`, raised in a
        # parser callback) reaches it that way too.
        if self._head_bytes > self._bounds.max_header_bytes:
            self._refuse_head()
            return
        super().send_400_response(msg)

    def on_headers_complete(self) -> None:
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self._bounds.max_header_bytes:
            self._head_bytes = size
            raise _HeadTooLarge
        self._reading_head = False
        self._head_bytes = 0
        self._cancel(self._head_timer)
        self._head_timer = None
        super().on_headers_complete()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._start_head_clock()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # What follows on this connection is the next request's head.
        self._reading_head = True
        self._head_bytes = 0

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._start_head_clock()

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._send_timer is None:
            self._send_timer = self.loop.call_later(self._bounds.send_timeout, self._send_too_slow)

    def resume_writing(self) -> None:
        super().resume_writing()
        self._cancel(self._send_timer)
        self._send_timer = None

    def _expect_head(self) -> None:
        """The next bytes are a request head: count them, and start its clock."""
        self._reading_head = True
        self._head_bytes = 0
        self._start_head_clock()

    def _start_head_clock(self) -> None:
        if self._head_timer is None and not self.transport.is_closing():
            timeout = self._bounds.header_timeout
            self._head_timer = self.loop.call_later(timeout, self._head_too_slow)

    def _refuse_head(self) -> None:
        if self.transport.is_closing():
            return
        limit = self._bounds.max_header_bytes
        log.warning("request head over %d bytes: 431, connection closed", limit)
        detail = f"The request line and headers are larger than {limit} bytes."
        self.transport.write(_problem(431, "Request Header Fields Too Large", detail))
        self.transport.close()
        self._cancel_timers()

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if not self._reading_head or self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered; the clock restarts when it is
        if self._head_bytes:
            timeout = self._bounds.header_timeout
            detail = f"The request head did not arrive within {timeout:g} s."
            self.transport.write(_problem(408, "Request Timeout", detail))
        self.transport.close()

    def _send_too_slow(self) -> None:
        self._send_timer = None
        if not self.transport.is_closing():
            log.warning(
                "client read nothing for %g s: connection aborted", self._bounds.send_timeout
            )
        self.transport.abort()

    def _cancel_timers(self) -> None:
        self._cancel(self._head_timer)
        self._cancel(self._send_timer)
        self._head_timer = self._send_timer = None

    @staticmethod
    def _cancel(timer: TimerHandle | None) -> None:
        if timer is not None:
            timer.cancel()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m service.serve", description=__doc__)
    parser.add_argument("app", nargs="?", default="service.main:create_app", help="app factory")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "1")))
    parser.add_argument("--timeout-graceful-shutdown", type=int, default=20)
    parser.add_argument("--timeout-keep-alive", type=int, default=5)
    parser.add_argument("--no-access-log", dest="access_log", action="store_false")
    parser.add_argument("--log-level", default=None)
    args = parser.parse_args(argv)
    bounds()  # fail at start, not at the first connection, if the settings are wrong
    settings = get_settings()
    uvicorn.run(
        args.app,
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http=BoundedHttpToolsProtocol,
        timeout_graceful_shutdown=args.timeout_graceful_shutdown,
        timeout_keep_alive=args.timeout_keep_alive,
        proxy_headers=settings.proxy_headers,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        access_log=args.access_log,
        log_level=args.log_level,
    )


if __name__ == "__main__":
    main()
