"""Job queue metrics: gauges refreshed from the table, counters by the worker."""

from prometheus_client import Counter, Gauge

JOBS_QUEUED = Gauge("jobs_queued", "Pending jobs waiting for a worker", multiprocess_mode="max")
JOBS_RUNNING = Gauge(
    "jobs_running", "Jobs claimed by a worker (lease held)", multiprocess_mode="max"
)
JOBS_DEAD = Gauge("jobs_dead", "Dead-lettered jobs (failed every attempt)", multiprocess_mode="max")
JOBS_OLDEST_AGE = Gauge(
    "jobs_oldest_pending_age_seconds",
    "Age of the oldest pending job (0 when none)",
    multiprocess_mode="max",
)
JOBS_COMPLETED = Counter("jobs_completed", "Jobs run successfully", ["topic"])
JOBS_FAILED_ATTEMPTS = Counter("jobs_failed_attempts", "Job attempts that raised", ["topic"])
JOBS_DEAD_LETTERED = Counter("jobs_dead_lettered", "Jobs moved to the dead state", ["topic"])
JOBS_PERIODIC_RUNS = Counter("jobs_periodic_runs", "Periodic job runs", ["name", "outcome"])
