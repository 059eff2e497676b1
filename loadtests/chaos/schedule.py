"""The seeded fault schedule: which fault, how long it is held, how long the pause after it."""

import random
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    PRIMARY_KILL = "primary_kill"
    SWITCHOVER = "switchover"
    REPLICA_STOP = "replica_stop"
    REPLICA_LAG = "replica_lag"
    APP_KILL = "app_kill"
    APP_TERM = "app_term"
    WORKER_KILL = "worker_kill"
    PGBOUNCER_RESTART = "pgbouncer_restart"
    REDIS_DOWN = "redis_down"


SKIPPED: dict[FaultKind, str] = {
    FaultKind.PGBOUNCER_RESTART: "the HA topology has no PgBouncer: the apps reach the nodes"
    " through the multi-host DSN (docs/scaling.md)",
}
"""Fault kinds of issue 27 that this topology cannot apply, and why (printed by every run)."""

NO_REDIS = "redis-server is not installed: the apps keep rate limits in memory"
"""Why REDIS_DOWN is skipped on a machine without Redis (the run records it)."""

HOLD_SECONDS: dict[FaultKind, tuple[float, float]] = {
    FaultKind.PRIMARY_KILL: (0.0, 2.0),
    FaultKind.SWITCHOVER: (0.0, 0.0),
    FaultKind.REPLICA_STOP: (3.0, 8.0),
    FaultKind.REPLICA_LAG: (3.0, 8.0),
    FaultKind.APP_KILL: (0.5, 3.0),
    FaultKind.APP_TERM: (0.5, 3.0),
    FaultKind.WORKER_KILL: (0.5, 4.0),
    FaultKind.REDIS_DOWN: (1.0, 4.0),
}
"""How long a fault stays before its repair starts (a range the seed picks from)."""


@dataclass(frozen=True)
class Step:
    kind: FaultKind
    hold: float
    pause: float
    target: int
    """Which app instance (0 or 1) an app fault hits; unused by the others."""


def plan(
    seed: int,
    count: int,
    skipped: Collection[FaultKind] = (),
    pause: tuple[float, float] = (2.0, 6.0),
) -> list[Step]:
    """`count` steps: every applicable kind once per round (shuffled), holds and pauses seeded."""
    rng = random.Random(seed)
    applied = [k for k in FaultKind if k not in SKIPPED and k not in skipped]
    kinds: list[FaultKind] = []
    while len(kinds) < count:
        round_ = list(applied)
        rng.shuffle(round_)
        kinds.extend(round_)
    return [
        Step(
            kind=kind,
            hold=round(rng.uniform(*HOLD_SECONDS[kind]), 2),
            pause=round(rng.uniform(*pause), 2),
            target=rng.randrange(2),
        )
        for kind in kinds[:count]
    ]
