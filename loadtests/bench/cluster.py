"""The database: a private PostgreSQL primary per checkout (or BENCH_DATABASE_URL), migrated,
seeded, vacuumed; the fixture the load generators pick ids, tokens and cursors from.

The private cluster lives in /tmp/inkwell-bench-<uid>-<hash of the checkout path> (not in the
checkout: a clone in a mode-700 folder is not reachable by the `postgres` user that root runs
PostgreSQL as). Its port is recorded in the folder on creation, so a kept cluster (BENCH_KEEP=1)
is found and re-used by the next run, already seeded. A run stops the cluster when it started
it, unless BENCH_KEEP=1; a cluster that was already running is left running
(`python -m loadtests.bench down`, or `make bench-down`, stops it).
"""

import asyncio
import hashlib
import json
import os
import random
import secrets
import socket
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg

from loadtests.bench.config import BIN, ROOT, Knobs, say
from loadtests.cursors import NEWEST, OLDEST, Cursors
from loadtests.seed import SeedParams, feed_readers, seed

if TYPE_CHECKING:
    from service.settings import Settings

PORT_RANGE = (59500, 59900)

# Cursors are bound to their listing: the query parameters (besides `cursor` and `limit`) of
# the probes in thresholds.toml that use {newest_cursor} / {oldest_cursor}.
PROBE_LISTINGS = {
    NEWEST: Cursors.listing("/api/v1/posts", []),
    OLDEST: Cursors.listing("/api/v1/posts", [("sort", "created_at"), ("status", "published")]),
}


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class Cluster:
    """The private primary (scripts/db-up.sh with PRIMARY_ONLY=1) of this checkout."""

    directory: Path
    port: int
    started: bool = False

    @classmethod
    def for_checkout(cls, knobs: Knobs) -> "Cluster":
        state = knobs.cluster_dir / "cluster.env"
        if state.exists():  # created before: its port is baked into the data directory
            fields = dict(part.split("=", 1) for part in state.read_text().split())
            return cls(knobs.cluster_dir, int(fields["PRIMARY_PORT"]))
        if knobs.pg_port:
            return cls(knobs.cluster_dir, knobs.pg_port)
        low, high = PORT_RANGE
        digest = int(hashlib.sha256(str(knobs.cluster_dir).encode()).hexdigest(), 16)
        first = low + digest % (high - low) // 2 * 2
        for offset in range(0, high - low, 2):
            port = low + (first - low + offset) % (high - low)
            if _free(port) and _free(port + 1):
                return cls(knobs.cluster_dir, port)
        raise SystemExit(f"no free port pair in {PORT_RANGE} for the private cluster")

    @property
    def env(self) -> dict[str, str]:
        return {
            "CLUSTER_DIR": str(self.directory),
            "PRIMARY_PORT": str(self.port),
            "REPLICA_PORT": str(self.port + 1),
            "PGBOUNCER_PORT": str(self.port + 2),
            "PRIMARY_ONLY": "1",
        }

    @property
    def data_dir(self) -> Path:
        return self.directory / "primary"

    def postmaster_pid(self) -> int | None:
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        return pid if Path(f"/proc/{pid}").exists() else None

    def up(self) -> str:
        running = self.postmaster_pid() is not None
        say(
            f"{'re-using the running' if running else 'starting the'} private PostgreSQL "
            f"({self.directory}, 127.0.0.1:{self.port})"
        )
        result = _script("db-up.sh", self.env, timeout=180)
        self.started = not running
        for line in result.splitlines():
            if line.startswith("TEST_DATABASE_URL="):
                return line.split("=", 1)[1]
        raise SystemExit("db-up.sh printed no TEST_DATABASE_URL")

    def down(self) -> None:
        say(f"stopping the private PostgreSQL ({self.directory})")
        _script("db-down.sh", self.env, timeout=120)
        self.started = False


def _script(name: str, env: dict[str, str], *, timeout: float) -> str:
    result = subprocess.run(
        [str(ROOT / "scripts" / name)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"scripts/{name} failed:\n{result.stderr}")
    return result.stdout


def seed_params() -> SeedParams:
    defaults = SeedParams()
    return replace(
        defaults,
        users=int(os.environ.get("BENCH_USERS_SEED", defaults.users)),
        posts=int(os.environ.get("BENCH_POSTS", defaults.posts)),
        comments=int(os.environ.get("BENCH_COMMENTS", defaults.comments)),
    )


def migrate_and_seed(url: str) -> None:
    say("migrating")
    subprocess.run(
        [str(BIN / "alembic"), "upgrade", "head"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url},
        check=True,
        capture_output=True,
        timeout=300,
    )
    if asyncio.run(seed(url, seed_params())):
        # Settle the fresh tables now, so autovacuum does not run inside a measured window.
        say("VACUUM ANALYZE after seeding")
        asyncio.run(_vacuum(url))


async def _vacuum(url: str) -> None:
    conn = await asyncpg.connect(_dsn(url))
    try:
        await conn.execute("VACUUM (ANALYZE)")
    finally:
        await conn.close()


def token_settings(jwt_secret: str) -> "Settings":
    """Production settings that sign tokens as the targets do (a throwaway webhook key: the
    production settings refuse to start without one)."""
    from service.settings import Settings

    key = secrets.token_urlsafe(48)
    return Settings(
        environment="production", jwt_secret=jwt_secret, webhook_secret_key=key, _env_file=None
    )


def reader_tokens(jwt_secret: str) -> dict[str, str]:
    """The feed probes' readers (`auth = "follows_1000"` in thresholds.toml), by follow count."""
    from service.users.security import create_access_token

    settings = token_settings(jwt_secret)
    return {
        f"follows_{count}": create_access_token(settings, user_id=user_id, token_version=0)
        for user_id, count in feed_readers(seed_params()).items()
    }


async def write_fixture(url: str, jwt_secret: str, path: Path) -> None:
    """Ids the load generators pick from, tokens of seeded users, and cursors into the
    listings (signed with the run's secret: the service, reference and idiomatic apps all
    accept them)."""
    from service.users.security import create_access_token

    conn = await asyncpg.connect(_dsn(url))
    try:
        posts = await conn.fetch(
            "SELECT id, created_at FROM posts"
            " WHERE status = 'published' AND deleted_at IS NULL ORDER BY id"
        )
        authors = await conn.fetch(
            "SELECT author_id FROM posts GROUP BY author_id HAVING count(*) >= 20 ORDER BY 1"
        )
        everyone = await conn.fetch("SELECT id, token_version FROM users ORDER BY id")
        # The writers: a seeded sample of all users, so a post reaches as many followers as an
        # average author's (the first ids are the seed's most followed authors).
        users = sorted(
            random.Random(11).sample(list(everyone), min(256, len(everyone))), key=lambda u: u["id"]
        )
        followers = await conn.fetchval(
            "SELECT count(*)::float / $2 FROM follows WHERE followee_id = ANY($1::bigint[])",
            [u["id"] for u in users],
            len(users),
        )
    finally:
        await conn.close()
    settings = token_settings(jwt_secret)
    tokens = [
        create_access_token(settings, user_id=u["id"], token_version=u["token_version"])
        for u in users
    ]
    readers = reader_tokens(jwt_secret)
    cursors = Cursors(jwt_secret)
    rng = random.Random(7)
    sample = rng.sample(list(posts), min(500, len(posts)))
    data = {
        "published_post_ids": [r["id"] for r in posts],
        "author_ids": [r["author_id"] for r in authors],
        "users": len(users),
        "tokens": tokens,
        "writers_mean_followers": followers,
        "readers": readers,
        "cursors": {
            sort: [cursors.encode(sort, [r["created_at"], r["id"]], listing) for r in sample]
            for sort, listing in PROBE_LISTINGS.items()
        },
    }
    await asyncio.to_thread(path.write_text, json.dumps(data), encoding="utf-8")
