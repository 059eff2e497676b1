"""Fixtures (a plugin tests/conftest.py loads): the real cluster (primary + streaming replica +
PgBouncer) for the scale-out and replication tests.

URLs come from TEST_DATABASE_URL / TEST_REPLICA_URL / TEST_PGBOUNCER_URL (CI exports them from
scripts/db-up.sh). When they are unset and PostgreSQL binaries exist, the session starts the
cluster with scripts/db-up.sh and stops it at the end; otherwise the tests skip, except under
CI=true where they fail. Every test works in its own throw-away database on the primary, which
streams to the replica by itself.
"""

import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from service.database.engines import create_engine
from tests.support import databases
from tests.support.migrations import run_alembic
from tests.support.paths import ROOT
from tests.support.scaleout import SCRIPTS, Cluster, ScaleoutDb, wait_for
from tests.support.settings import make_settings


def _port(url: str) -> str:
    return str(make_url(url).port or 5432)


def _parse_urls(output: str) -> dict[str, str]:
    found = {}
    for line in output.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.startswith("TEST_"):
            found[key] = value.strip()
    return found


def _cluster_env(primary_url: str, replica_url: str, pgbouncer_url: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("CLUSTER_DIR", str(ROOT / ".cluster"))
    env["PRIMARY_PORT"] = _port(primary_url)
    env["REPLICA_PORT"] = _port(replica_url)
    if pgbouncer_url:
        env["PGBOUNCER_PORT"] = _port(pgbouncer_url)
    return env


def _have_pg_binaries() -> bool:
    return any(Path("/usr/lib/postgresql").glob("*/bin/initdb")) or bool(
        subprocess.run(["which", "pg_config"], capture_output=True).returncode == 0
    )


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    urls = {k: v for k in ("TEST_DATABASE_URL", "TEST_REPLICA_URL") if (v := os.environ.get(k))}
    started = False
    if "TEST_REPLICA_URL" not in urls:
        if not _have_pg_binaries():
            databases.unavailable("no replica (TEST_REPLICA_URL unset, no PostgreSQL binaries)")
        result = subprocess.run(
            [str(SCRIPTS / "db-up.sh")], capture_output=True, text=True, timeout=300
        )
        if result.returncode != 0:
            databases.unavailable(f"scripts/db-up.sh failed: {result.stderr[-2000:]}")
        urls = _parse_urls(result.stdout)
        # stop it at the end only if this session started it (not a developer's running cluster)
        started = "cluster already running" not in result.stderr
    primary, replica = urls["TEST_DATABASE_URL"], urls["TEST_REPLICA_URL"]
    pgbouncer = urls.get("TEST_PGBOUNCER_URL") or os.environ.get("TEST_PGBOUNCER_URL")
    env = _cluster_env(primary, replica, pgbouncer)
    state = Path(env["CLUSTER_DIR"]) / "cluster.env"
    if not state.is_file():
        databases.unavailable(f"no cluster created by scripts/db-up.sh in {env['CLUSTER_DIR']}")
    yield Cluster(primary, replica, pgbouncer, env)
    if started:
        subprocess.run([str(SCRIPTS / "db-down.sh")], env=env, capture_output=True, timeout=120)


@pytest.fixture(scope="session")
async def scaleout_db(cluster: Cluster) -> AsyncIterator[ScaleoutDb]:
    """A migrated throw-away database on the primary, visible on the replica."""
    async with databases.postgres_database("scaleout", base_url=cluster.primary_url) as url:
        settings = make_settings(url)
        engine = create_engine(url, settings, role="tests")
        async with engine.begin() as connection:
            await run_alembic(connection, "upgrade", "head")
        await engine.dispose()
        name = make_url(url).database
        assert name is not None
        replica_url = make_url(cluster.replica_url).set(database=name).render_as_string(False)
        db = ScaleoutDb(cluster, url, replica_url, name)

        async def migrated_on_replica() -> bool:
            connection = await asyncpg.connect(db.dsn(replica_url), timeout=5)
            try:
                return bool(await connection.fetchval("SELECT count(*) FROM alembic_version"))
            finally:
                await connection.close()

        await wait_for(migrated_on_replica, within=30, interval=0.2)
        yield db
