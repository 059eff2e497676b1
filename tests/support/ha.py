"""The HA cluster of scripts/ha-up.sh (`make db-up ha=1`): etcd + Patroni, a primary, a
synchronous standby and an async replica. Its leader is found through Patroni's REST API."""

import asyncio
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from tests.support import databases
from tests.support.paths import ROOT


@dataclass(frozen=True)
class HaCluster:
    url: str
    """The service's DSN: every node, `target_session_attrs=read-write`."""
    apis: list[str]
    folder: Path

    async def members(self) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(timeout=2) as client:
            for api in self.apis:
                try:
                    answer = await client.get(f"{api}/cluster")
                except httpx.HTTPError:
                    continue
                members: list[dict[str, Any]] = answer.json()["members"]
                return members
        raise AssertionError("no Patroni REST API answers")

    async def leader(self) -> str | None:
        return next((m["name"] for m in await self.members() if m["role"] == "leader"), None)

    def kill_node(self, name: str) -> None:
        """The node dies: SIGKILL its Patroni (which would restart postgres), then its postgres."""
        os.kill(int((self.folder / f"{name}.pid").read_text()), signal.SIGKILL)
        postmaster = (self.folder / name / "postmaster.pid").read_text().splitlines()[0]
        os.kill(int(postmaster), signal.SIGKILL)

    async def restore(self) -> None:
        """scripts/ha-up.sh again: the killed node's Patroni starts and it rejoins as a replica."""
        process = await asyncio.create_subprocess_exec(
            str(ROOT / "scripts" / "ha-up.sh"),
            env=os.environ | {"HA_DIR": str(self.folder)},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        assert process.returncode == 0, output.decode(errors="replace")

    def _connect_args(self, database: str) -> dict[str, Any]:
        given = make_url(self.url).query["host"]
        hosts = [h.rsplit(":", 1) for h in ([given] if isinstance(given, str) else given)]
        return {
            "host": [h for h, _ in hosts],
            "port": [int(p) for _, p in hosts],
            "user": "postgres",
            "database": database,
            "target_session_attrs": "read-write",
            "timeout": 10,
        }

    @asynccontextmanager
    async def database(self) -> AsyncIterator[str]:
        """A throw-away database on the cluster (dropped on whichever node is primary then)."""
        name = f"inkwell_test_ha_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(**self._connect_args("postgres"))
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        await self._replicated(name)
        try:
            yield make_url(self.url).set(database=name).render_as_string(hide_password=False)
        finally:
            admin = await asyncpg.connect(**self._connect_args("postgres"))
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()

    async def _replicated(self, name: str) -> None:
        """Until every node has the database: a client trying the hosts in order stops at one
        that refuses an unknown database (asyncpg tries the next host only when one is down)."""
        args = self._connect_args("postgres")
        deadline = time.monotonic() + 30
        for host, port in zip(args["host"], args["port"], strict=True):
            while True:
                node = await asyncpg.connect(host=host, port=port, user="postgres", timeout=10)
                try:
                    found = await node.fetchval(
                        "SELECT 1 FROM pg_database WHERE datname = $1", name
                    )
                finally:
                    await node.close()
                if found:
                    break
                assert time.monotonic() < deadline, f"{name} never reached {host}:{port}"
                await asyncio.sleep(0.1)


def ha_cluster() -> HaCluster:
    """The cluster named by TEST_HA_URL / TEST_HA_PATRONI / TEST_HA_DIR (scripts/ha-up.sh)."""
    url, apis = os.environ.get("TEST_HA_URL"), os.environ.get("TEST_HA_PATRONI")
    folder = os.environ.get("TEST_HA_DIR", str(ROOT / ".ha-cluster"))
    if not url or not apis:
        databases.unavailable("no HA cluster: `make db-up ha=1` and export its TEST_HA_* lines")
        raise AssertionError("unreachable")
    return HaCluster(url, apis.split(","), Path(folder))
