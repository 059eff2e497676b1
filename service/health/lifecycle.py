"""Graceful shutdown: readiness flips to 503 the moment SIGTERM arrives, then uvicorn drains.

Under uvicorn the app wraps its signal handler: mark the app as shutting down, wait
`SHUTDOWN_DELAY_SECONDS` for load balancers, then hand the signal on (docs/operations.md)."""

import asyncio
import gc
import logging
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

from service.kit.state import StateSlot

log = logging.getLogger("inkwell.lifecycle")

Handler = Callable[[int, FrameType | None], Any]


class Lifecycle:
    def __init__(self) -> None:
        self.shutting_down = False
        self._callbacks: list[Callable[[], None]] = []

    def on_shutdown(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)

    def begin_shutdown(self) -> None:
        """Idempotent; runs on the event loop."""
        if self.shutting_down and not self._callbacks:
            return
        self.shutting_down = True
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback()
            except Exception:
                log.exception("shutdown callback failed")

    def hook_server_signals(self, *, delay: float) -> Callable[[], None]:
        """Wrap uvicorn's signal handlers (if uvicorn installed them); returns the undo."""
        loop = asyncio.get_running_loop()
        restored: dict[int, Handler] = {}
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(sig)
            if not _is_uvicorn_handler(previous):
                continue
            assert callable(previous)
            wrapper = self._wrap(previous, loop, delay if sig == signal.SIGTERM else 0.0)
            signal.signal(sig, wrapper)
            restored[sig] = previous

        def undo() -> None:
            for sig, previous in restored.items():
                signal.signal(sig, previous)

        return undo

    def _wrap(self, previous: Handler, loop: asyncio.AbstractEventLoop, delay: float) -> Handler:
        signalled = False

        def handler(sig: int, frame: FrameType | None) -> None:
            nonlocal signalled
            first, signalled = not signalled, True
            self.shutting_down = True  # readiness answers 503 from now on
            loop.call_soon_threadsafe(self.begin_shutdown)
            if first and delay > 0:
                log.info("shutdown requested; draining starts soon", extra={"delay_s": delay})
                loop.call_soon_threadsafe(loop.call_later, delay, previous, sig, frame)
            else:
                previous(sig, frame)

        return handler


LIFECYCLE: StateSlot[Lifecycle] = StateSlot("lifecycle")


def _is_uvicorn_handler(handler: object) -> bool:
    owner = getattr(handler, "__self__", None)
    return type(owner).__module__.startswith("uvicorn") if owner is not None else False


def freeze_startup_heap() -> None:
    """Once started, move every object alive to the permanent generation (`gc.freeze`), so full
    collections no longer walk them (docs/performance.md). What is frozen is never collected, which
    is right for what the process keeps until it exits."""
    gc.collect()
    gc.freeze()
