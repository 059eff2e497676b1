"""The HA cluster of scripts/ha-up.sh, driven for faults: Patroni's REST API, its nodes' pids."""

import asyncio
import contextlib
import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
HEALTHY_ROLES = ["leader", "replica", "sync_standby"]


@dataclass(frozen=True)
class Cluster:
    url: str
    """The service's DSN: every node, `target_session_attrs=read-write`."""
    apis: list[str]
    folder: Path

    @property
    def nodes(self) -> list[tuple[str, int]]:
        """(host, port) of every node, in the DSN's order."""
        given = make_url(self.url).query["host"]
        hosts = [given] if isinstance(given, str) else list(given)
        return [(h, int(p)) for h, p in (x.rsplit(":", 1) for x in hosts)]

    async def members(self) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(timeout=2) as client:
            for api in self.apis:
                try:
                    answer = await client.get(f"{api}/cluster")
                    members: list[dict[str, Any]] = answer.json()["members"]
                except (httpx.HTTPError, ValueError, KeyError):
                    continue
                return members
        return []

    async def member(self, role: str) -> dict[str, Any] | None:
        return next((m for m in await self.members() if m.get("role") == role), None)

    async def healthy(self) -> bool:
        members = await self.members()
        up = [m["role"] for m in members if m.get("state") in ("running", "streaming")]
        return sorted(up) == HEALTHY_ROLES

    async def wait_healthy(self, within: float = 90.0) -> None:
        """Until a leader, a synchronous standby and an async replica all run."""
        deadline = time.monotonic() + within
        while not await self.healthy():
            if time.monotonic() > deadline:
                raise RuntimeError(f"HA cluster not healthy: {await self.members()}")
            await asyncio.sleep(0.3)

    def kill_node(self, name: str) -> None:
        """The node dies: SIGKILL its Patroni (which would restart postgres), then its postgres."""
        os.kill(int((self.folder / f"{name}.pid").read_text()), signal.SIGKILL)
        postmaster = (self.folder / name / "postmaster.pid").read_text().splitlines()[0]
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(postmaster), signal.SIGKILL)

    async def restore(self) -> None:
        """scripts/ha-up.sh again: dead nodes start, rejoin, and it waits for a healthy cluster."""
        process = await asyncio.create_subprocess_exec(
            str(ROOT / "scripts" / "ha-up.sh"),
            env=os.environ | {"HA_DIR": str(self.folder)},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"ha-up.sh failed: {output.decode(errors='replace')[-2000:]}")

    async def switchover(self) -> str:
        """Patroni's planned switchover to the synchronous standby; the new leader's name."""
        leader, standby = await self.member("leader"), await self.member("sync_standby")
        if leader is None or standby is None:
            raise RuntimeError(f"no leader and sync standby to switch: {await self.members()}")
        api = str(leader["api_url"]).removesuffix("/patroni")
        body = {"leader": leader["name"], "candidate": standby["name"]}
        async with httpx.AsyncClient(timeout=60) as client:
            answer = await client.post(f"{api}/switchover", json=body)
        if answer.status_code != 200:
            raise RuntimeError(f"switchover refused: {answer.status_code} {answer.text}")
        return str(standby["name"])

    async def replay(self, member: dict[str, Any], *, paused: bool) -> None:
        """Pause or resume WAL replay on a replica: it stays up and falls behind."""
        call = "pg_wal_replay_pause()" if paused else "pg_wal_replay_resume()"
        node = await asyncpg.connect(
            host=member["host"], port=member["port"], user="postgres", timeout=10
        )
        try:
            await node.execute(f"SELECT {call}")
        finally:
            await node.close()

    async def _admin(self) -> asyncpg.Connection:
        nodes = self.nodes
        return await asyncpg.connect(
            host=[h for h, _ in nodes],
            port=[p for _, p in nodes],
            user="postgres",
            database="postgres",
            target_session_attrs="read-write",
            timeout=10,
        )

    async def create_database(self) -> str:
        """A fresh database on the cluster, present on every node; the service's DSN for it."""
        name = f"inkwell_chaos_{uuid.uuid4().hex[:8]}"
        admin = await self._admin()
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        deadline = time.monotonic() + 30
        for host, port in self.nodes:
            while True:
                node = await asyncpg.connect(host=host, port=port, user="postgres", timeout=10)
                try:
                    found = await node.fetchval("SELECT 1 FROM pg_database WHERE datname=$1", name)
                finally:
                    await node.close()
                if found:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} never reached {host}:{port}")
                await asyncio.sleep(0.1)
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    async def drop_database(self, url: str) -> None:
        admin = await self._admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
        finally:
            await admin.close()

    def replica_urls(self, url: str) -> list[str]:
        """One single-host DSN per node, for DATABASE_REPLICA_URLS (the leader is skipped)."""
        base = make_url(url)
        return [
            base.set(host=host, port=port, query={}).render_as_string(hide_password=False)
            for host, port in self.nodes
        ]


def cluster_from_env() -> Cluster | None:
    """The cluster named by TEST_HA_URL / TEST_HA_PATRONI / TEST_HA_DIR, if they are set."""
    url, apis = os.environ.get("TEST_HA_URL"), os.environ.get("TEST_HA_PATRONI")
    if not url or not apis:
        return None
    folder = Path(os.environ.get("TEST_HA_DIR", str(ROOT / ".ha-cluster")))
    return Cluster(url, apis.split(","), folder)


async def ha_up(folder: Path | None = None) -> Cluster:
    """scripts/ha-up.sh (idempotent: starts what is down) and the cluster it prints."""
    env = os.environ | ({"HA_DIR": str(folder)} if folder else {})
    process = await asyncio.create_subprocess_exec(
        str(ROOT / "scripts" / "ha-up.sh"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    output, errors = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"ha-up.sh failed: {errors.decode(errors='replace')[-2000:]}")
    lines = dict(line.split("=", 1) for line in output.decode().splitlines() if "=" in line)
    return Cluster(
        lines["TEST_HA_URL"], lines["TEST_HA_PATRONI"].split(","), Path(lines["TEST_HA_DIR"])
    )
