"""Shared by the fault tests: the feed's poll and the login limit they need. The job worker
runs on its defaults (lease and poll): a crash must recover quickly as users run it (issue 27)."""

FAST = {
    "REALTIME_POLL_SECONDS": "0.5",
    "LOGIN_RATE_LIMIT": "1000/minute",
}
