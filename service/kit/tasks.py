"""Background tasks of the process (monitors, listeners, the worker): stopped the same way."""

import asyncio
import contextlib
from typing import Any


async def cancel_and_wait(*tasks: "asyncio.Task[Any] | None") -> None:
    """Cancel each task, then wait until each has finished (its cancellation swallowed)."""
    running = [task for task in tasks if task is not None]
    for task in running:
        task.cancel()
    for task in running:
        with contextlib.suppress(asyncio.CancelledError):
            await task
