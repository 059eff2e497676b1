"""The HA cluster of scripts/ha-up.sh (`make db-up ha=1`): etcd + Patroni, a primary, a
synchronous standby and an async replica; the chaos runner's view of it
(loadtests/chaos/cluster.py), with what the fail-over test adds."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from loadtests.chaos.cluster import Cluster, cluster_from_env
from tests.support import databases


class HaCluster(Cluster):
    async def leader(self) -> str | None:
        member = await self.member("leader")
        return None if member is None else str(member["name"])

    @asynccontextmanager
    async def database(self) -> AsyncIterator[str]:
        """A throw-away database on every node (dropped on whichever node is primary then)."""
        url = await self.create_database()
        try:
            yield url
        finally:
            await self.drop_database(url)


def ha_cluster() -> HaCluster:
    """The cluster named by TEST_HA_URL / TEST_HA_PATRONI / TEST_HA_DIR (scripts/ha-up.sh)."""
    found = cluster_from_env()
    if found is None:
        databases.unavailable("no HA cluster: `make db-up ha=1` and export its TEST_HA_* lines")
        raise AssertionError("unreachable")
    return HaCluster(found.url, found.apis, found.folder)
