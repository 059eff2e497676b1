"""The throughput probe's generator: wrk (C, event loop, ~1/10 of Locust's CPU per request).

wrk is installed with apt-get when it is missing and the harness runs as root (BENCH_GENERATOR
=auto or wrk); otherwise the probe falls back to Locust and the report says so. A probe's
Lua script picks a random path per request from the list the harness expanded and, when wrk
is done, prints one JSON line with the counts and latency percentiles.
"""

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from loadtests.bench.config import say

_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, '
    .. '"status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


@dataclass
class Load:
    """What one probe window produced, whatever the generator."""

    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    error_detail: str = ""


def find_wrk(mode: str) -> tuple[str | None, str]:
    """(path to wrk or None, a sentence for the report)."""
    if mode == "locust":
        return None, "Locust (BENCH_GENERATOR=locust)"
    found = shutil.which("wrk")
    if found:
        return found, f"wrk ({found})"
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        why = "wrk is not installed and the harness is not root (apt-get install wrk)"
        if mode == "wrk":
            raise SystemExit(f"BENCH_GENERATOR=wrk: {why}")
        return None, f"Locust: {why}"
    say("wrk is missing: apt-get install -y wrk")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in (["install"], ["update"], ["install"]):
        command = ["apt-get", "-qq", "-y", *step]
        if step == ["install"]:
            command.append("wrk")
        done = subprocess.run(command, env=env, capture_output=True, timeout=300, check=False)
        if step == ["install"] and done.returncode == 0:
            break
    found = shutil.which("wrk")
    if found:
        return found, f"wrk ({found}, installed by this run with apt-get)"
    if mode == "wrk":
        raise SystemExit("BENCH_GENERATOR=wrk: apt-get could not install wrk")
    return None, "Locust: apt-get could not install wrk"


def write_script(
    paths: list[str],
    path: Path,
    headers: dict[str, str] | None = None,
    *,
    method: str = "GET",
    body: str | None = None,
    tokens: list[str] | None = None,
) -> None:
    """A random path per request; a write probe also sends `body` with `{n}` made unique per
    request, and rotates over `tokens` (one bearer token per seeded user)."""
    listed = ",\n".join(json.dumps(p) for p in paths)  # a JSON string is a valid Lua string
    sent = ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in (headers or {}).items())
    rotated = ",\n".join(json.dumps(f"Bearer {t}") for t in tokens or [])
    path.write_text(
        f"local paths = {{\n{listed}\n}}\n"
        f"local headers = {{{sent}}}\n"
        f"local tokens = {{\n{rotated}\n}}\n"
        f"local method, body = {json.dumps(method)}, {json.dumps(body) if body else 'nil'}\n"
        "local n, counter = #paths, 0\n"
        "math.randomseed(os.time())\n"
        "local run = tostring(os.time()) .. '-' .. tostring(math.random(1000000000))\n"
        "request = function()\n"
        "  counter = counter + 1\n"
        "  if #tokens > 0 then headers['Authorization'] = tokens[counter % #tokens + 1] end\n"
        "  local sent = nil\n"
        "  if body then sent = (body:gsub('{n}', run .. '-' .. counter)) end\n"
        "  return wrk.format(method, paths[math.random(n)], headers, sent)\n"
        "end\n" + _DONE,
        encoding="utf-8",
    )


def run_wrk(
    wrk: str, base: str, script: Path, *, seconds: int, connections: int, log: Path
) -> Load:
    command = [
        wrk,
        "--threads",
        "1",
        "--connections",
        str(connections),
        "--duration",
        f"{seconds}s",
        "--timeout",
        "10s",
        "--script",
        str(script),
        base,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    log.write_text(done.stdout + done.stderr, encoding="utf-8")
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK_RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed ({done.returncode}); see {log}")
    r = json.loads(line.removeprefix("WRK_RESULT "))
    socket_errors = r["connect"] + r["read"] + r["write"] + r["timeout"]
    detail = ", ".join(
        f"{r[k]} {k}" for k in ("status", "connect", "read", "write", "timeout") if r[k]
    )
    return Load(
        requests=r["requests"],
        errors=r["status"] + socket_errors,
        seconds=r["duration_us"] / 1e6,
        p50_ms=r["p50_us"] / 1000,
        p99_ms=r["p99_us"] / 1000,
        error_detail=detail,
    )
