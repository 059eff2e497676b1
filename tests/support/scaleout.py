"""What the cluster tests share (tests/scaleout/, tests/replication/): the `cluster` fixture's
cluster, the throw-away database of `scaleout_db`, and `wait_for` (the fixtures:
tests/support/cluster.py)."""

import asyncio
import subprocess
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import make_url

from tests.support.paths import ROOT

SCRIPTS = ROOT / "scripts"


@dataclass(frozen=True)
class Cluster:
    primary_url: str
    replica_url: str
    pgbouncer_url: str | None
    env: dict[str, str]

    def ctl(self, node: str, action: str) -> None:
        """scripts/db-ctl.sh on our cluster (blocks until the node accepts connections)."""
        subprocess.run(
            [str(SCRIPTS / "db-ctl.sh"), node, action],
            env=self.env,
            check=True,
            capture_output=True,
            timeout=120,
        )

    def running(self, node: str) -> bool:
        result = subprocess.run(
            [str(SCRIPTS / "db-ctl.sh"), node, "status"],
            env=self.env,
            capture_output=True,
            timeout=30,
        )
        return result.returncode == 0


@dataclass(frozen=True)
class ScaleoutDb:
    cluster: Cluster
    primary_url: str
    replica_url: str
    name: str

    def dsn(self, url: str) -> str:
        return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def wait_for(predicate: Any, *, within: float, interval: float = 0.1) -> Any:
    """Await `predicate()` until it returns a truthy value (returned) or time runs out."""
    deadline = time.monotonic() + within
    while True:
        try:
            value = await predicate()
        except Exception:
            value = None
            if time.monotonic() > deadline:
                raise
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(interval)
