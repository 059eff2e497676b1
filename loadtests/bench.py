"""`make bench`: database, migrations, seed, service + reference, Locust scenarios, gates, report.

    python -m loadtests.bench            # the whole run; exit 1 when a gate fails
    python -m loadtests.bench prepare    # only database + migrations + seed; prints DATABASE_URL

Environment: BENCH_DATABASE_URL (else a private primary is started from local PostgreSQL
binaries in .bench-cluster on port 59432), BENCH_DURATION (seconds per scenario, 20),
BENCH_USERS (overrides every scenario's user count), BENCH_WORKERS (uvicorn workers, CPU count),
BENCH_SCENARIOS (comma list, default all), BENCH_OUT (bench-results), BENCH_POSTS / BENCH_USERS_SEED
/ BENCH_COMMENTS (data set size). Only 127.0.0.1 is loaded, and every step has a time bound.
"""

import asyncio
import csv
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from loadtests.seed import SeedParams, seed

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
THRESHOLDS = ROOT / "loadtests" / "thresholds.toml"
LOCUSTFILE = ROOT / "loadtests" / "locustfile.py"
SERVICE_PORT = 59480
REFERENCE_PORT = 59481
CLUSTER_ENV = {
    "CLUSTER_DIR": str(ROOT / ".bench-cluster"),
    "PRIMARY_PORT": "59432",
    "REPLICA_PORT": "59433",
    "PGBOUNCER_PORT": "59434",
    "PRIMARY_ONLY": "1",
}
GATED_KEYS = ("max_failure_ratio", "p99_ms", "p99_over_p50", "min_reference_ratio")


def say(message: str) -> None:
    sys.stderr.write(f"[bench] {message}\n")
    sys.stderr.flush()


# --- database -----------------------------------------------------------------------------


def database_url() -> str:
    given = os.environ.get("BENCH_DATABASE_URL")
    if given:
        return given
    say("starting a private PostgreSQL primary (.bench-cluster, 127.0.0.1:59432)")
    result = subprocess.run(
        [str(ROOT / "scripts" / "db-up.sh")],
        env={**os.environ, **CLUSTER_ENV},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise SystemExit("could not start PostgreSQL for the benchmark")
    for line in result.stdout.splitlines():
        if line.startswith("TEST_DATABASE_URL="):
            return line.split("=", 1)[1]
    raise SystemExit("db-up.sh printed no TEST_DATABASE_URL")


def seed_params() -> SeedParams:
    defaults = SeedParams()
    return replace(
        defaults,
        users=int(os.environ.get("BENCH_USERS_SEED", defaults.users)),
        posts=int(os.environ.get("BENCH_POSTS", defaults.posts)),
        comments=int(os.environ.get("BENCH_COMMENTS", defaults.comments)),
    )


def prepare() -> str:
    url = database_url()
    say("migrating")
    subprocess.run(
        [str(BIN / "alembic"), "upgrade", "head"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url},
        check=True,
        capture_output=True,
        timeout=300,
    )
    asyncio.run(seed(url, seed_params()))
    return url


async def _fixture(url: str, jwt_secret: str, path: Path) -> None:
    """Ids the Locust users pick from, plus tokens for seeded users (what real clients reuse)."""
    from service.kit.settings import Settings
    from service.users.security import create_access_token

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        posts = await conn.fetch(
            "SELECT id FROM posts WHERE status = 'published' AND deleted_at IS NULL ORDER BY id"
        )
        authors = await conn.fetch(
            "SELECT author_id FROM posts GROUP BY author_id HAVING count(*) >= 20 ORDER BY 1"
        )
        users = await conn.fetch("SELECT id, token_version FROM users ORDER BY id LIMIT 256")
    finally:
        await conn.close()
    settings = Settings(environment="production", jwt_secret=jwt_secret, _env_file=None)
    tokens = [
        create_access_token(settings, user_id=u["id"], token_version=u["token_version"])
        for u in users
    ]
    data = {
        "published_post_ids": [r["id"] for r in posts],
        "author_ids": [r["author_id"] for r in authors],
        "users": len(users),
        "tokens": tokens,
    }
    await asyncio.to_thread(path.write_text, json.dumps(data), encoding="utf-8")


# --- servers ------------------------------------------------------------------------------


@contextmanager
def server(
    name: str, app: list[str], port: int, env: Mapping[str, str], out: Path
) -> Iterator[str]:
    """Run uvicorn (uvloop + httptools, N workers) until the block ends; yields its base URL."""
    workers = os.environ.get("BENCH_WORKERS") or str(os.cpu_count() or 1)
    command = [
        str(BIN / "uvicorn"),
        *app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        workers,
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    log = (out / f"{name}.log").open("w", encoding="utf-8")
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_live(f"{base}/health/live", process, timeout=60)
        say(f"{name} up on {base} ({workers} workers)")
        yield base
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def _wait_live(url: str, process: subprocess.Popen[bytes], *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}; see its log")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} not live within {timeout}s")


# --- scenarios ----------------------------------------------------------------------------


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
    target: str  # "service" or "reference"
    users: int
    duration: int
    endpoints: list[EndpointResult] = field(default_factory=list)


def run_locust(
    scenario: str, user_class: str, target: str, host: str, users: int, duration: int, out: Path
) -> ScenarioRun:
    prefix = out / f"{scenario}_{target}"
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
        f"{duration}s",
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
    say(f"{scenario} -> {target}: {users} users for {duration}s")
    with (out / f"{scenario}_{target}.locust.log").open("w", encoding="utf-8") as log:
        # Locust exits 1 when any request failed; the gates below decide, not its exit code.
        subprocess.run(
            command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, timeout=duration + 120
        )
    run = ScenarioRun(scenario, target, users, duration)
    stats = Path(f"{prefix}_stats.csv")
    if not stats.exists():
        raise SystemExit(f"locust wrote no {stats}; see {prefix}.locust.log")
    with stats.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated":
                continue
            run.endpoints.append(
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
            )
    return run


# --- gates --------------------------------------------------------------------------------


@dataclass
class Gate:
    scenario: str
    endpoint: str
    check: str
    limit: float
    value: float | None
    passed: bool
    note: str = ""


def _limits(config: dict[str, Any], scenario: str, endpoint: str) -> dict[str, Any]:
    limits = dict(config.get("defaults", {}))
    spec = config["scenarios"][scenario]
    limits.update({k: v for k, v in spec.items() if k != "endpoints"})
    limits.update(spec.get("endpoints", {}).get(endpoint, {}))
    return limits


def evaluate(config: dict[str, Any], runs: list[ScenarioRun]) -> list[Gate]:
    gates: list[Gate] = []
    reference = {
        (r.scenario, e.name): e for r in runs if r.target == "reference" for e in r.endpoints
    }
    for run in (r for r in runs if r.target == "service"):
        if not run.endpoints:
            gates.append(Gate(run.scenario, "-", "requests", 1, 0, False, "no requests at all"))
        for e in run.endpoints:
            limits = _limits(config, run.scenario, e.name)
            ratio = e.failures / e.requests if e.requests else 1.0
            gates.append(
                Gate(
                    run.scenario,
                    e.name,
                    "failure_ratio",
                    limits["max_failure_ratio"],
                    ratio,
                    ratio <= limits["max_failure_ratio"],
                )
            )
            enough = e.requests >= limits.get("min_requests", 0)
            note = "" if enough else f"only {e.requests} requests: not gated"
            gates.append(
                Gate(
                    run.scenario,
                    e.name,
                    "p99_ms",
                    limits["p99_ms"],
                    e.p99,
                    not enough or e.p99 <= limits["p99_ms"],
                    note,
                )
            )
            if "p99_over_p50" in limits:
                tail = e.p99 / max(e.p50, 1.0)
                gates.append(
                    Gate(
                        run.scenario,
                        e.name,
                        "p99_over_p50",
                        limits["p99_over_p50"],
                        tail,
                        not enough or tail <= limits["p99_over_p50"],
                        note,
                    )
                )
            if "min_reference_ratio" in limits:
                ref = reference.get((run.scenario, e.name))
                value = e.rps / ref.rps if ref and ref.rps else None
                gates.append(
                    Gate(
                        run.scenario,
                        e.name,
                        "service_over_reference_rps",
                        limits["min_reference_ratio"],
                        value,
                        value is not None and value >= limits["min_reference_ratio"],
                        "" if ref else "reference not measured",
                    )
                )
    return gates


# --- report -------------------------------------------------------------------------------


def plot(runs: list[ScenarioRun], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(r, e) for r in runs for e in r.endpoints]
    labels = [f"{r.scenario}\n{e.name}\n[{r.target}]" for r, e in rows]
    colors = ["tab:gray" if r.target == "reference" else "tab:blue" for r, _ in rows]
    height = max(6.0, 0.45 * len(rows) + 2)
    fig, (ax_rps, ax_lat) = plt.subplots(1, 2, figsize=(16, height), sharey=True)
    positions = list(range(len(rows)))
    ax_rps.barh(positions, [e.rps for _, e in rows], color=colors)
    ax_rps.set_yticks(positions, labels, fontsize=7)
    ax_rps.invert_yaxis()
    ax_rps.set_xlabel("requests/s (higher is better)")
    ax_rps.set_title("Throughput: service (blue) vs reference (gray)")
    width = 0.27
    for offset, (key, color) in enumerate(
        (("p50", "tab:green"), ("p95", "tab:orange"), ("p99", "tab:red"))
    ):
        ax_lat.barh(
            [p + (offset - 1) * width for p in positions],
            [getattr(e, key) for _, e in rows],
            height=width,
            color=color,
            label=key,
        )
    ax_lat.set_xscale("log")
    ax_lat.set_xlabel("latency ms (log; lower is better)")
    ax_lat.set_title("Latency percentiles per endpoint")
    ax_lat.legend(loc="lower right")
    for ax in (ax_rps, ax_lat):
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(f"Inkwell bench {datetime.now(UTC):%Y-%m-%d %H:%M} UTC (same-run comparison)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def print_table(runs: list[ScenarioRun], gates: list[Gate]) -> None:
    lines = [
        f"{'scenario':<11} {'target':<9} {'endpoint':<28} {'reqs':>7} {'fail':>5} "
        f"{'rps':>8} {'p50':>6} {'p95':>6} {'p99':>6}"
    ]
    for r in runs:
        for e in r.endpoints:
            lines.append(
                f"{r.scenario:<11} {r.target:<9} {e.name:<28} {e.requests:>7} {e.failures:>5} "
                f"{e.rps:>8.1f} {e.p50:>6.0f} {e.p95:>6.0f} {e.p99:>6.0f}"
            )
    lines.append("")
    for g in gates:
        value = "n/a" if g.value is None else f"{g.value:.3f}"
        mark = "PASS" if g.passed else "FAIL"
        lines.append(
            f"{mark} {g.scenario:<11} {g.endpoint:<28} {g.check:<27} {value:>9} "
            f"(limit {g.limit}) {g.note}"
        )
    sys.stdout.write("\n".join(lines) + "\n")


# --- main ---------------------------------------------------------------------------------


def bench() -> int:
    config = tomllib.loads(THRESHOLDS.read_text(encoding="utf-8"))
    duration = int(os.environ.get("BENCH_DURATION", "20"))
    wanted = [s for s in os.environ.get("BENCH_SCENARIOS", "").split(",") if s]
    scenarios = wanted or list(config["scenarios"])
    out = (
        ROOT
        / os.environ.get("BENCH_OUT", "bench-results")
        / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    )
    out.mkdir(parents=True)
    started = time.monotonic()
    url = prepare()
    jwt_secret = secrets.token_urlsafe(48)
    ids_file = out / "fixture.json"
    asyncio.run(_fixture(url, jwt_secret, ids_file))
    service_env = {
        "DATABASE_URL": url,
        "DATABASE_REPLICA_URLS": "",
        "ENVIRONMENT": "production",
        "JWT_SECRET": jwt_secret,
        "LOG_LEVEL": "WARNING",
        "BENCH_IDS_FILE": str(ids_file),
    }
    runs: list[ScenarioRun] = []
    with (
        server(
            "service", ["--factory", "service.main:create_app"], SERVICE_PORT, service_env, out
        ) as service_url,
        server(
            "reference", ["loadtests.reference.app:app"], REFERENCE_PORT, service_env, out
        ) as reference_url,
    ):
        paths = _paths(service_url)
        for name in scenarios:
            spec = config["scenarios"][name]
            if spec.get("requires") and spec["requires"] not in paths:
                say(f"{name}: skipped, the service has no {spec['requires']} yet")
                continue
            users = int(os.environ.get("BENCH_USERS") or _limits(config, name, "")["users"])
            os.environ["BENCH_IDS_FILE"] = str(ids_file)
            # Service then reference back to back, so both see the same host noise.
            runs.append(
                run_locust(name, spec["user_class"], "service", service_url, users, duration, out)
            )
            if spec.get("reference"):
                runs.append(
                    run_locust(
                        name, spec["user_class"], "reference", reference_url, users, duration, out
                    )
                )
    gates = evaluate(config, runs)
    plot(runs, out / "bench.png")
    passed = all(g.passed for g in gates)
    summary = {
        "passed": passed,
        "started_at": out.name,
        "elapsed_s": round(time.monotonic() - started, 1),
        "duration_per_scenario_s": duration,
        "workers": os.environ.get("BENCH_WORKERS") or os.cpu_count(),
        "seed": asdict(seed_params()),
        "runs": [asdict(r) for r in runs],
        "gates": [asdict(g) for g in gates],
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print_table(runs, gates)
    say(f"{'PASSED' if passed else 'FAILED'}: report in {out.relative_to(ROOT)}")
    return 0 if passed else 1


def _paths(base: str) -> set[str]:
    with urllib.request.urlopen(f"{base}/openapi.json", timeout=10) as response:
        spec = json.load(response)
    return {f"{m.upper()} {p}" for p, item in spec["paths"].items() for m in item}


def main() -> None:
    if sys.argv[1:] == ["prepare"]:
        sys.stdout.write(prepare() + "\n")
        return
    raise SystemExit(bench())


if __name__ == "__main__":
    main()
