"""Read replicas: health and lag monitoring, cool-down, and the choice of a replica for a read."""

import asyncio
import logging
import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from service.database.engines import (
    AsyncReadSession,
    create_engine,
    make_read_sessionmaker,
    pool_status,
    reads_autocommit,
)
from service.kit.state import StateSlot
from service.kit.tasks import cancel_and_wait
from service.replication.settings import ReplicationSettings

log = logging.getLogger("inkwell.routing")

ReplicaState = Literal["unknown", "ok", "lagging", "down"]

# Lag is read from the replica's own view: the replay position and whether it is still in recovery.
_REPLICA_PROBE = "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text"
# The insert position, not pg_current_wal_lsn() (the write position): with synchronous_commit=off
# a just-committed record may not be written yet, and a token must never be older than its commit.
PRIMARY_LSN = "SELECT pg_current_wal_insert_lsn()::text"


def parse_lsn(text: str) -> int:
    """PostgreSQL `pg_lsn` text ("16/B374D848") to an integer; ValueError when malformed."""
    high, sep, low = text.partition("/")
    if not sep or not high or not low or len(high) > 8 or len(low) > 8:
        raise ValueError(f"not an LSN: {text!r}")
    return (int(high, 16) << 32) | int(low, 16)


def format_lsn(value: int) -> str:
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


@dataclass(eq=False)
class Replica:
    """One replica engine and what the monitor last saw of it."""

    name: str
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncReadSession]
    state: ReplicaState = "unknown"
    lag: float | None = None
    replay_lsn: int = 0
    skip_until: float = 0.0
    last_error: str | None = None

    def usable(self, now: float) -> bool:
        return self.state == "ok" and now >= self.skip_until

    def report(self, now: float) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state if now >= self.skip_until or self.state != "ok" else "cooldown",
            "lag_seconds": None if self.lag is None else round(self.lag, 3),
            "replay_lsn": format_lsn(self.replay_lsn) if self.replay_lsn else None,
            "skipped_for_seconds": round(max(0.0, self.skip_until - now), 3),
            "last_error": self.last_error,
            "pool": pool_status(self.engine),
        }

    @classmethod
    def from_settings(cls, name: str, url: str, settings: ReplicationSettings) -> "Replica":
        """Its engine is set up like the primary's reader (see `reads_autocommit`)."""
        engine = create_engine(url, settings, role=name, autocommit=reads_autocommit(settings))
        return cls(name=name, engine=engine, sessionmaker=make_read_sessionmaker(engine))


@dataclass(eq=False)
class ReplicaSet:
    """Replicas of one process, checked in the background every `db_replica_check_interval`.

    Lag is measured in time against the primary's WAL position: each check samples the primary's
    `pg_current_wal_lsn()`; a replica's lag is the age (relative to the newest sample) of the
    newest sample it has replayed past. So an idle primary never makes a replica look late, and
    when the primary is down the lag stays frozen instead of growing (reads keep working).
    """

    primary: AsyncEngine
    replicas: list[Replica]
    settings: ReplicationSettings
    _history: deque[tuple[float, int]] = field(init=False)
    _task: asyncio.Task[None] | None = field(default=None, init=False)
    _next: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        window = self.settings.db_replica_max_lag / self.settings.db_replica_check_interval
        self._history = deque(maxlen=math.ceil(window) + 3)

    @classmethod
    def from_settings(cls, settings: ReplicationSettings, primary: AsyncEngine) -> "ReplicaSet":
        """The replicas of `database_replica_urls` (none: every read goes to the primary);
        `primary` is the engine the monitor samples the primary's WAL position on."""
        replicas = [
            Replica.from_settings(f"replica-{i}", url, settings)
            for i, url in enumerate(settings.database_replica_urls)
        ]
        return cls(primary=primary, replicas=replicas, settings=settings)

    def start(self) -> None:
        """Start the monitor on the running loop (idempotent; a no-op without replicas)."""
        if self.replicas and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="replicas")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def dispose(self) -> None:
        """Stop the monitor and close every replica's pool (the primary's is not ours)."""
        await self.stop()
        for replica in self.replicas:
            await replica.engine.dispose()

    def choose(self, min_lsn: int | None) -> Replica | None:
        """A healthy replica that has replayed past `min_lsn` (round robin), else None."""
        if not self.replicas:
            return None
        now = time.monotonic()
        floor = min_lsn or 0
        candidates = [r for r in self.replicas if r.usable(now) and r.replay_lsn >= floor]
        if not candidates:
            return None
        self._next = (self._next + 1) % len(candidates)
        return candidates[self._next]

    def mark_down(self, replica: Replica, error: BaseException) -> None:
        """Skip `replica` for the cool-down (a read on it failed to connect or lost its link)."""
        if replica.state != "down":
            log.warning("replica %s is down: %s", replica.name, type(error).__name__)
        replica.state = "down"
        replica.last_error = type(error).__name__
        replica.skip_until = time.monotonic() + self.settings.db_replica_cooldown

    def report(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        return [r.report(now) for r in self.replicas]

    async def _run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:  # the monitor must never die; each failure is logged
                log.exception("replica check failed")
            await asyncio.sleep(self.settings.db_replica_check_interval)

    async def check(self) -> None:
        """One round: sample the primary's position, then probe every replica not cooling down."""
        lsn = await self._primary_lsn()
        if lsn is not None:
            self._history.append((time.monotonic(), lsn))
        now = time.monotonic()
        due = [r for r in self.replicas if now >= r.skip_until]
        await asyncio.gather(*(self._check(r) for r in due))

    async def _primary_lsn(self) -> int | None:
        try:
            async with asyncio.timeout(self.settings.db_connect_timeout + 1):
                async with self.primary.connect() as connection:
                    value = (await connection.exec_driver_sql(PRIMARY_LSN)).scalar_one()
        except Exception as error:  # primary trouble is reported by /health/ready, not here
            log.debug("primary LSN sample failed: %s", type(error).__name__)
            return None
        return parse_lsn(value)

    async def _check(self, replica: Replica) -> None:
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.settings.db_connect_timeout + 1):
                async with replica.engine.connect() as connection:
                    row: Any = (await connection.exec_driver_sql(_REPLICA_PROBE)).one()
            in_recovery, replay = row[0], row[1]
        except sa_exc.TimeoutError:
            return  # its pool is busy serving reads: that is not a sign of trouble
        except Exception as error:
            self.mark_down(replica, error)
            return
        if replica.skip_until > started:
            # A read marked it down while this probe was in flight (e.g. the probe answered
            # just before the replica stopped): the newer verdict stands until its cool-down.
            return
        if not in_recovery or replay is None:
            self.mark_down(replica, RuntimeError("not in recovery (promoted?)"))
            return
        replica.replay_lsn = parse_lsn(replay)
        replica.lag = self._lag(replica.replay_lsn)
        replica.last_error = None
        if replica.lag > self.settings.db_replica_max_lag:
            if replica.state != "lagging":
                log.warning("replica %s lags %.1fs", replica.name, replica.lag)
            replica.state = "lagging"
            replica.skip_until = time.monotonic() + self.settings.db_replica_cooldown
        else:
            if replica.state != "ok":
                log.info("replica %s is in service (lag %.1fs)", replica.name, replica.lag)
            replica.state = "ok"

    def _lag(self, replay_lsn: int) -> float:
        if not self._history:
            return 0.0  # the primary was never sampled: nothing to compare with
        newest = self._history[-1][0]
        for sampled_at, lsn in reversed(self._history):
            if lsn <= replay_lsn:
                return newest - sampled_at
        return newest - self._history[0][0] + self.settings.db_replica_check_interval


REPLICAS: StateSlot[ReplicaSet] = StateSlot("replicas")
