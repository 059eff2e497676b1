"""Locust, headless: the scenarios (failures, p50/p99 at 64 users) and the probe fallback."""

import csv
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from loadtests.bench.config import BIN, LOCUSTFILE, ROOT, say
from loadtests.bench.wrk import Load


@dataclass
class EndpointResult:
    name: str
    requests: int
    failures: int
    rps: float
    p50: float
    p95: float
    p99: float
    max: float


@dataclass
class ScenarioRun:
    scenario: str
    target: str
    users: int
    duration: int
    endpoints: list[EndpointResult] = field(default_factory=list)
    report: str = ""
    """The Locust HTML page, relative to the run folder."""


def _locust(
    user_class: str,
    host: str,
    users: int,
    seconds: int,
    prefix: Path,
    env: dict[str, str],
) -> list[EndpointResult]:
    command = [
        str(BIN / "locust"),
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        host,
        "--users",
        str(users),
        "--spawn-rate",
        str(users),
        "--run-time",
        f"{seconds}s",
        "--reset-stats",
        "--stop-timeout",
        "5",
        "--csv",
        str(prefix),
        "--html",
        f"{prefix}.html",
        "--only-summary",
        "--loglevel",
        "WARNING",
        user_class,
    ]
    with Path(f"{prefix}.locust.log").open("w", encoding="utf-8") as log:
        # Locust exits 1 when any request failed; the gates decide, not its exit code.
        subprocess.run(
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=seconds + 120,
            check=False,
        )
    stats = Path(f"{prefix}_stats.csv")
    if not stats.exists():
        raise SystemExit(f"locust wrote no {stats}; see {prefix}.locust.log")
    with stats.open(encoding="utf-8") as handle:
        return [
            EndpointResult(
                name=row["Name"],
                requests=int(row["Request Count"]),
                failures=int(row["Failure Count"]),
                rps=float(row["Requests/s"]),
                p50=float(row["50%"]),
                p95=float(row["95%"]),
                p99=float(row["99%"]),
                max=float(row["Max Response Time"]),
            )
            for row in csv.DictReader(handle)
            if row["Name"] != "Aggregated"
        ]


def run_scenario(
    scenario: str,
    user_class: str,
    target: str,
    host: str,
    users: int,
    duration: int,
    out: Path,
    fixture: Path,
) -> ScenarioRun:
    say(f"scenario {scenario} -> {target}: {users} users for {duration}s")
    prefix = out / f"{scenario}_{target}"
    endpoints = _locust(user_class, host, users, duration, prefix, {"BENCH_IDS_FILE": str(fixture)})
    return ScenarioRun(scenario, target, users, duration, endpoints, f"{prefix.name}.html")


def probe_with_locust(
    host: str, paths_file: Path, *, seconds: int, users: int, prefix: Path
) -> Load:
    """The fallback probe: ProbeUser (locustfile) requests random paths from `paths_file`."""
    env = {"BENCH_PROBE_PATHS": str(paths_file)}
    rows = _locust("ProbeUser", host, users, seconds, prefix, env)
    requests = sum(r.requests for r in rows)
    failures = sum(r.failures for r in rows)
    row = rows[0] if rows else EndpointResult("-", 0, 0, 0, 0, 0, 0, 0)
    return Load(
        requests=requests,
        errors=failures,
        seconds=float(seconds),
        p50_ms=row.p50,
        p99_ms=row.p99,
        error_detail=f"{failures} failed" if failures else "",
    )
