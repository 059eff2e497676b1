"""The whole run: database, fixture, the three targets, parity, probes, scenarios, report."""

import asyncio
import json
import secrets
import sys
import time
import tomllib
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

from loadtests.bench import probes, report
from loadtests.bench.cluster import Cluster, migrate_and_seed, write_fixture
from loadtests.bench.config import ROOT, THRESHOLDS, Knobs, say
from loadtests.bench.gates import Gate, probe_gates, scenario_gates, scenario_limits
from loadtests.bench.locust_runs import ScenarioRun, run_scenario
from loadtests.bench.probe_runs import run_probes
from loadtests.bench.servers import Server, servers

T = TypeVar("T")


@dataclass
class Database:
    url: str
    cluster: Cluster | None
    postmaster: int | None
    """Whose processes count as database CPU (None: an external database, not counted)."""

    def run(self, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """`work` on a connection of its own (the harness is synchronous)."""

        async def connected() -> T:
            conn = await asyncpg.connect(self.url.replace("+asyncpg", "", 1))
            try:
                return await work(conn)
            finally:
                await conn.close()

        return asyncio.run(connected())

    def quiet(self, limit_s: float = 30.0) -> None:
        """Waits until no other session has been inside a statement or a transaction for a
        second (the requests a load left in flight have finished), so stopping a target never
        strands a lock."""

        busy = (
            "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
            " AND backend_type = 'client backend' AND state <> 'idle'"
        )
        deadline = time.monotonic() + limit_s
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            if self.run(lambda conn: conn.fetchval(busy)):
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= 1.0:  # the requests still queued came too
                return
            time.sleep(0.05)

    def forget_writes_after(self, mark: int) -> int:
        """Deletes the posts above id `mark` (what write probes added; their comments, likes,
        tags and notifications go with them) and the outbox, then re-analyses: the scenarios
        and the next run meet the seeded data set, not one grown by every run's writes."""

        async def forget(conn: asyncpg.Connection) -> int:
            deleted = await conn.execute("DELETE FROM posts WHERE id > $1", mark)
            await conn.execute("DELETE FROM outbox_events")
            await conn.execute("VACUUM ANALYZE posts")
            return int(deleted.split()[-1])

        return self.run(forget)

    def newest_post(self) -> int:
        return int(self.run(lambda conn: conn.fetchval("SELECT coalesce(max(id), 0) FROM posts")))

    def outbox_drained(self, limit_s: float = 300.0) -> float:
        """Waits until no outbox event is pending (the service's job worker has run what the
        load wrote); returns the seconds it took."""

        pending = "SELECT count(*) FROM outbox_events WHERE state = 'pending'"
        start = time.monotonic()
        while self.run(lambda conn: conn.fetchval(pending)):
            if time.monotonic() - start > limit_s:
                say(f"the outbox did not drain in {limit_s:.0f}s: measuring on")
                break
            time.sleep(0.1)
        return time.monotonic() - start


def open_database(knobs: Knobs) -> Database:
    if knobs.database_url:
        say("BENCH_DATABASE_URL is set: its server's CPU is not counted (server CPU only)")
        migrate_and_seed(knobs.database_url)
        return Database(knobs.database_url, None, None)
    cluster = Cluster.for_checkout(knobs)
    try:
        url = cluster.up()
        migrate_and_seed(url)
    except BaseException:
        close_database(Database("", cluster, None), knobs)
        raise
    return Database(url, cluster, cluster.postmaster_pid())


def close_database(db: Database, knobs: Knobs) -> str:
    """Stop what this run started unless BENCH_KEEP=1; a sentence for the report."""
    cluster = db.cluster
    if cluster is None:
        return "external database (BENCH_DATABASE_URL): left as it was"
    if not cluster.started:
        return f"private cluster {cluster.directory} was already running: left running"
    if knobs.keep:
        return f"private cluster {cluster.directory} kept running (BENCH_KEEP=1)"
    cluster.down()
    return f"private cluster {cluster.directory} stopped"


def service_env(url: str, jwt_secret: str, knobs: Knobs) -> dict[str, str]:
    """The targets' settings: the run's database and secret, limits off (docs/performance.md)."""
    return {
        "DATABASE_URL": url,
        "DATABASE_REPLICA_URLS": "",
        "ENVIRONMENT": "production",
        "JWT_SECRET": jwt_secret,
        # Production refuses to start without one; the bench sends no webhooks.
        "WEBHOOK_SECRET_KEY": secrets.token_urlsafe(48),
        "LOG_LEVEL": "WARNING",
        "DB_POOL_SIZE": str(knobs.pool_size),
        "DB_MAX_OVERFLOW": "0",
        # The bench measures throughput, not the per-user budgets: its writers write flat
        # out and its anonymous searchers share one address (docs/performance.md).
        "WRITE_RATE_LIMIT": "off",
        # The default: the embedded job worker on (a probe may turn it off: `service_env`).
        "JOBS_EMBEDDED": "true",
        "SEARCH_RATE_LIMIT": "off",
        "EXPORT_RATE_LIMIT": "off",
    }


@dataclass
class Results:
    probe_results: list[probes.ProbeResult] = field(default_factory=list)
    """Every round of every probe and target, in the order they ran."""
    runs: list[ScenarioRun] = field(default_factory=list)
    parity: dict[tuple[str, str], str | None] = field(default_factory=dict)
    generator: str = ""
    notes: list[str] = field(default_factory=list)


def _paths(base: str) -> set[str]:
    with urllib.request.urlopen(f"{base}/openapi.json", timeout=10) as response:
        spec = json.load(response)
    return {f"{m.upper()} {p}" for p, item in spec["paths"].items() for m in item}


def measure(
    config: dict[str, Any],
    knobs: Knobs,
    running: dict[str, Server],
    env: dict[str, str],
    db: Database,
    fixture_file: Path,
    out: Path,
) -> Results:
    results = Results()
    fixture = json.loads(fixture_file.read_text(encoding="utf-8"))
    mark = db.newest_post()
    results.generator, results.probe_results, results.parity = run_probes(
        config,
        knobs,
        running,
        env,
        postmaster=db.postmaster,
        settle=db.outbox_drained,
        quiet=db.quiet,
        fixture=fixture,
        out=out,
    )
    db.quiet()
    say(f"forgot the {db.forget_writes_after(mark)} posts the write probes wrote")
    service = running["service"]
    offered = _paths(service.url)
    for name in knobs.scenarios if knobs.scenarios is not None else list(config["scenarios"]):
        spec = config["scenarios"][name]
        if spec.get("requires") and spec["requires"] not in offered:
            results.notes.append(f"{name}: skipped, the service has no {spec['requires']} yet")
            say(results.notes[-1])
            continue
        users = knobs.users or int(scenario_limits(config, name, "")["users"])
        targets = ["service", *(t for t in spec.get("targets", []) if t in knobs.targets)]
        for target in targets:
            results.runs.append(
                run_scenario(
                    name,
                    spec["user_class"],
                    target,
                    running[target].url,
                    users,
                    knobs.duration,
                    out,
                    fixture_file,
                )
            )
    return results


def bench() -> int:
    knobs = Knobs.from_env()
    config = tomllib.loads(THRESHOLDS.read_text(encoding="utf-8"))
    unknown = set(knobs.scenarios or []) - set(config["scenarios"])
    if unknown:
        raise SystemExit(f"BENCH_SCENARIOS: unknown {sorted(unknown)}")
    out = knobs.out / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out.mkdir(parents=True)
    started = time.monotonic()
    db = open_database(knobs)
    try:
        jwt_secret = secrets.token_urlsafe(48)
        fixture_file = out / "fixture.json"
        asyncio.run(write_fixture(db.url, jwt_secret, fixture_file))
        env = service_env(db.url, jwt_secret, knobs)
        with servers(knobs.targets, knobs.workers, env, out) as running:
            results = measure(config, knobs, running, env, db, fixture_file, out)
    finally:
        database_note = close_database(db, knobs)
    say(database_note)
    results.notes.append(database_note)
    gates: list[Gate] = probe_gates(config, results.probe_results, results.parity)
    gates += scenario_gates(config, results.runs)
    passed = all(g.passed for g in gates) and bool(gates)
    report.write(
        out,
        passed=passed,
        gates=gates,
        probe_results=results.probe_results,
        runs=results.runs,
        knobs=knobs,
        generator=results.generator,
        counted="service/reference/idiomatic uvicorn processes"
        + (" + the private PostgreSQL cluster" if db.postmaster else " only (external database)"),
        notes=results.notes,
        elapsed=time.monotonic() - started,
    )
    say(f"{'PASSED' if passed else 'FAILED'}: report in {out.relative_to(ROOT)}/index.html")
    return 0 if passed else 1


def main() -> None:
    command = sys.argv[1:]
    knobs = Knobs.from_env()
    if command == ["prepare"]:
        # For `make bench-micro` and ad-hoc use: leaves the cluster running (`... down` stops it).
        db = open_database(knobs)
        sys.stdout.write(db.url + "\n")
        return
    if command == ["status"]:
        running = Cluster.for_checkout(knobs).postmaster_pid() is not None
        sys.stdout.write(("running" if running else "stopped") + "\n")
        return
    if command == ["down"]:
        Cluster.for_checkout(knobs).down()
        return
    if command == ["scale"]:
        from loadtests.bench.scale import bench_scale

        raise SystemExit(bench_scale())
    if command:
        raise SystemExit("usage: python -m loadtests.bench [prepare|status|down|scale]")
    raise SystemExit(bench())


if __name__ == "__main__":
    main()
