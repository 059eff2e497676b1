"""Routing decisions, counted per target database."""

from typing import Literal

from prometheus_client import (
    Counter,
)

DB_ROUTE = Counter("db_route", "Sessions routed, by target database", ["target"])


def record_route(target: Literal["primary", "replica"]) -> None:
    """Count one routing decision (called by the read-replica router)."""
    DB_ROUTE.labels(target=target).inc()
