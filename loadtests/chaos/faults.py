"""The faults: each is injected, held, repaired, and recorded as one window in the history."""

import asyncio
import signal
from dataclasses import dataclass
from typing import Any

from loadtests.chaos.cluster import Cluster
from loadtests.chaos.history import History, now
from loadtests.chaos.processes import Proc
from loadtests.chaos.schedule import FaultKind, Step


@dataclass
class Injector:
    cluster: Cluster
    apps: list[Proc]
    worker: Proc
    redis: Proc | None
    history: History

    async def run(self, number: int, step: Step) -> None:
        """One step: the fault window runs from just before the injection to the end of repair."""
        start = now()
        detail = await self._inject(step)
        end = now()
        self.history.append(
            "fault", number=number, kind=str(step.kind), start=start, end=end, **detail
        )

    async def _inject(self, step: Step) -> dict[str, Any]:
        match step.kind:
            case FaultKind.PRIMARY_KILL:
                return await self._primary_kill(step)
            case FaultKind.SWITCHOVER:
                return await self._switchover()
            case FaultKind.REPLICA_STOP:
                return await self._replica_stop(step)
            case FaultKind.REPLICA_LAG:
                return await self._replica_lag(step)
            case FaultKind.APP_KILL | FaultKind.APP_TERM:
                return await self._app(step)
            case FaultKind.WORKER_KILL:
                await self._restart(self.worker, signal.SIGKILL, step.hold)
                return {}
            case FaultKind.REDIS_DOWN if self.redis is not None:
                await self._restart(self.redis, signal.SIGKILL, step.hold)
                return {}
        raise ValueError(f"{step.kind} cannot be injected here")

    async def _primary_kill(self, step: Step) -> dict[str, Any]:
        """The leader node SIGKILLed; Patroni promotes the sync standby; the node rejoins."""
        old = await self.cluster.member("leader")
        if old is None:
            raise RuntimeError("no leader to kill")
        self.cluster.kill_node(str(old["name"]))
        killed = now()
        while (new := await self.cluster.member("leader")) is None or new["name"] == old["name"]:
            if now() - killed > 60:
                raise RuntimeError("no fail-over within 60 s")
            await asyncio.sleep(0.2)
        promoted = now() - killed
        await asyncio.sleep(step.hold)
        await self.cluster.restore()
        return {"node": old["name"], "new_leader": new["name"], "promoted_after": promoted}

    async def _switchover(self) -> dict[str, Any]:
        old = await self.cluster.member("leader")
        new = await self.cluster.switchover()
        await self.cluster.wait_healthy()
        return {"node": old["name"] if old else None, "new_leader": new}

    async def _replica_stop(self, step: Step) -> dict[str, Any]:
        """The async replica's node stops (Patroni and postgres killed), then starts again."""
        replica = await self.cluster.member("replica")
        if replica is None:
            raise RuntimeError("no async replica to stop")
        self.cluster.kill_node(str(replica["name"]))
        await asyncio.sleep(step.hold)
        await self.cluster.restore()
        return {"node": replica["name"]}

    async def _replica_lag(self, step: Step) -> dict[str, Any]:
        """The async replica stays up but stops replaying WAL for the hold, then catches up."""
        replica = await self.cluster.member("replica")
        if replica is None:
            raise RuntimeError("no async replica to pause")
        await self.cluster.replay(replica, paused=True)
        try:
            await asyncio.sleep(step.hold)
        finally:
            await self.cluster.replay(replica, paused=False)
        return {"node": replica["name"]}

    async def _app(self, step: Step) -> dict[str, Any]:
        app = self.apps[step.target]
        number = signal.SIGKILL if step.kind is FaultKind.APP_KILL else signal.SIGTERM
        await self._restart(app, number, step.hold)
        return {"instance": step.target}

    @staticmethod
    async def _restart(proc: Proc, number: signal.Signals, hold: float) -> None:
        proc.signal(number)
        await proc.wait()
        await asyncio.sleep(hold)
        await proc.start()
