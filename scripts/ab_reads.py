"""Same-run A/B of two checkouts' anonymous reads: `python scripts/ab_reads.py BASE NEW`.

Both checkouts are served side by side (one uvicorn worker each, uvloop + httptools) by the
Python that runs this script, each from its own folder (the folder's `service` package wins
over an installed one), against one seeded PostgreSQL database (`--database-url`, e.g. the
bench cluster after `make seed`). The answers must be the same JSON; then each path is loaded
with wrk in interleaved rounds and the median rps and app CPU per request (the server's
process tree, from /proc) are printed. Make a base checkout with `git worktree add --detach
/tmp/base <commit>`. Used for the route-class comparison in docs/performance.md.
"""

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

PATHS = ["/api/v1/posts/4242", "/api/v1/posts", "/api/v1/posts/4242/comments"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` and its children (the uvicorn worker), in seconds."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    ticks = 0
    for process in [pid, *map(int, children)]:
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def serve(folder: Path, database_url: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ENVIRONMENT": "production",
        "JWT_SECRET": "an-ab-comparison-secret-of-48-characters-000000",
        "WEBHOOK_SECRET_KEY": "an-ab-comparison-webhook-key-of-48-characters-00",
        "LOG_LEVEL": "WARNING",
        "JOBS_EMBEDDED": "false",
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "service.main:create_app"]
    command += ["--port", str(port), "--workers", "1", "--loop", "uvloop", "--http", "httptools"]
    command += ["--log-level", "warning", "--no-access-log"]
    with log.open("w") as out:
        process = subprocess.Popen(
            command,
            cwd=folder,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{base}/health/live", timeout=1)
            return process, base
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{folder} did not start; see {log}")


def load(process: subprocess.Popen[bytes], url: str, seconds: int) -> tuple[float, float]:
    """rps and app CPU milliseconds per request of one wrk window (after a 2 s warm-up)."""
    subprocess.run(["wrk", "-t1", "-c32", "-d2s", url], capture_output=True, check=True)
    before = cpu_seconds(process.pid)
    out = subprocess.run(
        ["wrk", "-t1", "-c32", f"-d{seconds}s", url], capture_output=True, text=True, check=True
    ).stdout
    used = cpu_seconds(process.pid) - before
    requests = int(next(line for line in out.splitlines() if "requests in" in line).split()[0])
    return requests / seconds, used * 1000 / requests


def _without(value: Any, fields: list[str]) -> Any:
    """`value` with `fields` dropped from every object in it (new fields the base lacks)."""
    if isinstance(value, dict):
        return {k: _without(v, fields) for k, v in value.items() if k not in fields}
    if isinstance(value, list):
        return [_without(v, fields) for v in value]
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument(
        "--new-field",
        action="append",
        default=[],
        help="a field only the new checkout's posts carry (e.g. bookmarked): left out of parity",
    )
    parser.add_argument("paths", nargs="*", default=PATHS)
    args = parser.parse_args()
    servers = {
        name: serve(folder.resolve(), args.database_url, Path(f"ab-{name}.log"))
        for name, folder in (("base", args.base), ("new", args.new))
    }
    try:
        for path in args.paths:
            bodies = {
                n: _without(json.loads(urllib.request.urlopen(b + path).read()), args.new_field)
                for n, (_, b) in servers.items()
            }
            if bodies["base"] != bodies["new"]:
                raise SystemExit(f"{path}: the two checkouts answer different JSON")
        results: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for round_ in range(args.rounds):
            for path in args.paths:
                order = ("base", "new") if round_ % 2 == 0 else ("new", "base")
                for name in order:
                    process, base = servers[name]
                    results.setdefault((path, name), []).append(
                        load(process, base + path, args.seconds)
                    )
    finally:
        for process, _ in servers.values():
            os.killpg(process.pid, signal.SIGTERM)
    for path in args.paths:
        rps = {n: statistics.median(r for r, _ in results[(path, n)]) for n in ("base", "new")}
        cpu = {n: statistics.median(c for _, c in results[(path, n)]) for n in ("base", "new")}
        ratio = cpu["base"] / cpu["new"]
        sys.stdout.write(
            f"{path}: rps base {rps['base']:.0f} new {rps['new']:.0f}; app CPU ms per request"
            f" base {cpu['base']:.3f} new {cpu['new']:.3f} (base/new {ratio:.2f})\n"
        )


if __name__ == "__main__":
    main()
