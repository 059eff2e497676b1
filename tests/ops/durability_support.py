"""Shared by the fault tests: job and feed settings that make a crash recover quickly."""

FAST = {
    "JOBS_LEASE_SECONDS": "2",
    "JOBS_POLL_SECONDS": "0.2",
    "REALTIME_POLL_SECONDS": "0.5",
    "LOGIN_RATE_LIMIT": "1000/minute",
}
