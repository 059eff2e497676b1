"""Throughput probes: one endpoint at a time, service then reference then idiomatic, each a
short warm-up followed by a measured window with /proc CPU samples exactly around it.

A probe's path in thresholds.toml may hold placeholders, each replaced per generated path by
a random pick from the fixture: {post_id} (a published post), {author_id} (an author with at
least 20 posts), {newest_cursor} / {oldest_cursor} (a signed cursor into the `-created_at` /
`created_at` listing). The same concrete paths go to every target.
"""

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtests.bench.config import Knobs, say
from loadtests.bench.cpu import Meter
from loadtests.bench.locust_runs import probe_with_locust
from loadtests.bench.servers import Server
from loadtests.bench.wrk import Load, run_wrk, write_script
from loadtests.cursors import NEWEST, OLDEST

PATHS_PER_PROBE = 1000


@dataclass
class ProbeResult:
    endpoint: str
    target: str
    generator: str
    requests: int
    errors: int
    seconds: float
    rps: float
    server_cpu_s: float
    database_cpu_s: float | None
    cpu_ms_per_request: float | None
    """(server + database CPU) / requests, in milliseconds: the gated quantity."""
    app_ms_per_request: float | None
    """The target's own processes' share of it (the rest is PostgreSQL's)."""
    server_cores: float
    """Server CPU / wall time: how many cores the target's processes kept busy."""
    p50_ms: float
    p99_ms: float
    error_detail: str = ""


def expand(template: str, fixture: dict[str, Any], count: int, rng: random.Random) -> list[str]:
    pools: dict[str, list[Any]] = {
        "post_id": fixture["published_post_ids"],
        "author_id": fixture["author_ids"],
        "newest_cursor": fixture["cursors"][NEWEST],
        "oldest_cursor": fixture["cursors"][OLDEST],
    }
    used = [name for name in pools if "{" + name + "}" in template]
    if not used:
        return [template]
    return [
        template.format(**{name: rng.choice(pools[name]) for name in used}) for _ in range(count)
    ]


def slug(endpoint: str) -> str:
    """`GET /posts/{id}` -> `get_posts_id` (file names, BENCH_PROBES)."""
    return re.sub(r"[^a-z0-9]+", "_", endpoint.lower()).strip("_")


def run_probe(
    endpoint: str,
    template: str,
    server: Server,
    *,
    wrk: str | None,
    knobs: Knobs,
    fixture: dict[str, Any],
    postmaster: int | None,
    out: Path,
) -> ProbeResult:
    rng = random.Random(f"{endpoint}:{server.name}")
    paths = expand(template, fixture, PATHS_PER_PROBE, rng)
    name = f"probe_{slug(endpoint)}_{server.name}"
    paths_file = out / "probes" / f"{name}.json"
    paths_file.parent.mkdir(exist_ok=True)
    paths_file.write_text(json.dumps(paths), encoding="utf-8")
    script = paths_file.with_suffix(".lua")
    if wrk:
        write_script(paths, script)

    def load(seconds: int, stage: str) -> Load:
        log = out / "probes" / f"{name}.{stage}"
        if wrk:
            return run_wrk(
                wrk,
                server.url,
                script,
                seconds=seconds,
                connections=knobs.probe_connections,
                log=log.with_suffix(f".{stage}.log"),
            )
        return probe_with_locust(
            server.url, paths_file, seconds=seconds, users=knobs.probe_connections, prefix=log
        )

    say(
        f"probe {endpoint} -> {server.name}: {knobs.probe_warmup}s warm-up, "
        f"{knobs.probe_duration}s measured"
    )
    if knobs.probe_warmup > 0:
        load(knobs.probe_warmup, "warmup")
    result: list[Load] = []
    window = Meter(server.pid, postmaster).measure(
        lambda: result.append(load(knobs.probe_duration, "measured"))
    )
    measured = result[0]
    cpu = window.server_s + (window.database_s or 0.0)
    return ProbeResult(
        endpoint=endpoint,
        target=server.name,
        generator="wrk" if wrk else "locust",
        requests=measured.requests,
        errors=measured.errors,
        seconds=measured.seconds,
        rps=measured.requests / measured.seconds if measured.seconds else 0.0,
        server_cpu_s=window.server_s,
        database_cpu_s=window.database_s,
        cpu_ms_per_request=1000 * cpu / measured.requests if measured.requests else None,
        app_ms_per_request=(
            1000 * window.server_s / measured.requests if measured.requests else None
        ),
        server_cores=window.server_s / window.wall_s if window.wall_s else 0.0,
        p50_ms=measured.p50_ms,
        p99_ms=measured.p99_ms,
        error_detail=measured.error_detail,
    )
