"""The job worker as its own process: `python -m service.worker` (`make worker`).

Runs the same jobs as the embedded worker (set `JOBS_EMBEDDED=false` on the service when you run
these instead); a job cut short by SIGTERM runs again once its lease expires
(docs/operations.md)."""

import asyncio
import logging
import os
import signal

from prometheus_client import start_http_server

from service.flows import sender, worker
from service.kit.db.session import Database
from service.kit.observability.logging import configure_logging
from service.settings import get_settings

log = logging.getLogger("inkwell.jobs")


async def main() -> None:
    settings = get_settings()
    configure_logging(settings)
    if port := os.environ.get("JOBS_METRICS_PORT"):
        start_http_server(int(port), addr=os.environ.get("JOBS_METRICS_HOST", "127.0.0.1"))
    db = Database.from_settings(settings)
    deliveries = sender(settings, db)
    jobs = worker(settings, db, deliveries.wake)
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
