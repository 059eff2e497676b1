"""The whole run: database, fixture, the three targets, parity, probes, scenarios, report."""

import asyncio
import json
import os
import random
import secrets
import sys
import time
import tomllib
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from loadtests.bench import parity, probes, report
from loadtests.bench.cluster import Cluster, migrate_and_seed, write_fixture
from loadtests.bench.config import ROOT, THRESHOLDS, Knobs, say
from loadtests.bench.gates import Gate, probe_gates, scenario_gates, scenario_limits
from loadtests.bench.locust_runs import ScenarioRun, run_scenario
from loadtests.bench.servers import Server, servers
from loadtests.bench.wrk import find_wrk


@dataclass
class Database:
    url: str
    cluster: Cluster | None
    postmaster: int | None

    def outbox_drained(self, limit_s: float = 300.0) -> float:
        """Waits until no outbox event is pending (the service's job worker has run what the
        load wrote); returns the seconds it took."""

        async def pending() -> int:
            conn = await asyncpg.connect(self.url.replace("+asyncpg", "", 1))
            try:
                count: int = await conn.fetchval(
                    "SELECT count(*) FROM outbox_events WHERE state = 'pending'"
                )
                return count
            finally:
                await conn.close()

        start = time.monotonic()
        while asyncio.run(pending()):
            if time.monotonic() - start > limit_s:
                say(f"the outbox did not drain in {limit_s:.0f}s: measuring on")
                break
            time.sleep(0.1)
        return time.monotonic() - start

    """Whose processes count as database CPU (None: an external database, not counted)."""


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
        # The write probe's default: the embedded job worker on (it fans each post out to
        # the author's followers); BENCH_JOBS_EMBEDDED=false measures the request alone.
        "JOBS_EMBEDDED": os.environ.get("BENCH_JOBS_EMBEDDED", "true"),
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
    db: Database,
    fixture_file: Path,
    out: Path,
) -> Results:
    results = Results()
    fixture = json.loads(fixture_file.read_text(encoding="utf-8"))
    chosen = config.get("probes", {})
    if knobs.probes is not None:
        chosen = {
            k: v for k, v in chosen.items() if k in knobs.probes or probes.slug(k) in knobs.probes
        }
    wrk, results.generator = find_wrk(knobs.generator) if chosen else (None, "no probes")
    service = running["service"]
    for endpoint, spec in chosen.items():
        sample = probes.expand(spec["path"], fixture, 3, random.Random(endpoint))
        headers = probes.probe_headers(spec, fixture)
        write = probes.write_of(spec, fixture)
        # A probe may name the targets that serve it (the idiomatic app has no feed).
        targets = [t for t in knobs.targets if t == "service" or t in spec.get("targets", [t])]
        for target in targets[1:]:
            results.parity[(endpoint, target)] = (
                parity.compare(service.url, running[target].url, sample, headers)
                if write is None
                else parity.compare_write(
                    service.url,
                    running[target].url,
                    spec["path"],
                    write.method,
                    write.body,
                    write.tokens[0],
                )
            )
            if results.parity[(endpoint, target)]:
                say(f"parity {endpoint} {target}: {results.parity[(endpoint, target)]}")
        for round_no in range(knobs.probe_rounds):
            for target in targets:  # back to back: the same host noise for all of them
                results.probe_results.append(
                    probes.run_probe(
                        endpoint,
                        spec["path"],
                        running[target],
                        wrk=wrk,
                        knobs=knobs,
                        fixture=fixture,
                        postmaster=db.postmaster,
                        out=out,
                        round_no=round_no,
                        headers=headers,
                        connections=spec.get("connections"),
                        write=write,
                        # The service's embedded worker fans each post out after the 201: a
                        # write probe's window lasts until it has (docs/performance.md).
                        settle=db.outbox_drained if write and target == "service" else None,
                    )
                )
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
            results = measure(config, knobs, running, db, fixture_file, out)
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
