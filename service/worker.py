"""The job worker as its own process: `python -m service.worker` (`make worker`).

Runs the same jobs as the embedded worker (set `JOBS_EMBEDDED=false` on the service when you run
these instead). A job cut short by SIGTERM is given back at once; one cut short by SIGKILL runs
again once its lease, no longer renewed, expires (docs/operations.md)."""

import asyncio
import logging
import os
import signal
from collections.abc import Callable

from prometheus_client import start_http_server

from service import flows
from service.database.session import Database
from service.jobs.worker import Worker
from service.observability.logging import configure_logging
from service.settings import Settings, get_settings

log = logging.getLogger("inkwell.jobs")


async def main(
    build: Callable[[Settings, Database, Callable[[], None]], Worker] = flows.worker,
) -> None:
    """Run the worker `build` makes (the application's jobs) until SIGTERM or SIGINT."""
    settings = get_settings()
    configure_logging(settings)
    if port := os.environ.get("JOBS_METRICS_PORT"):
        start_http_server(int(port), addr=os.environ.get("JOBS_METRICS_HOST", "127.0.0.1"))
    db = Database.from_settings(settings)
    deliveries = flows.sender(settings, db)
    jobs = build(settings, db, deliveries.wake)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    jobs.start()
    deliveries.start()
    log.info("job worker started")
    try:
        await stop.wait()
    finally:
        await jobs.stop()
        await deliveries.stop()
        await db.dispose()
        log.info("job worker stopped")


if __name__ == "__main__":
    asyncio.run(main())
