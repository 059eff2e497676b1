"""Throughput probes: one endpoint at a time, service then reference then idiomatic, each a
short warm-up followed by a measured window with /proc CPU samples exactly around it; the
three targets in turn, `BENCH_PROBE_ROUNDS` times (interleaved rounds: host noise that comes
and goes lands on one round, not on one target). A ratio is the median of the rounds' ratios.

A probe's path in thresholds.toml may hold placeholders, each replaced per generated path by
a random pick from the fixture: {post_id} (a published post), {author_id} (an author with at
least 20 posts), {newest_cursor} / {oldest_cursor} (a signed cursor into the `-created_at` /
`created_at` listing), {deep_cursor} (`make bench-scale`: a cursor a fixed depth into the
newest-first listing). The same concrete paths go to every target.
"""

import json
import random
import re
import statistics
from collections.abc import Callable
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
    round_no: int = 0
    rounds: int = 1
    """How many rounds a pooled result sums (see `pooled`)."""
    backlog_s: float = 0.0
    """After a write probe's load: how long the service's job worker took to finish the events
    the load left (its CPU meanwhile is in the window: the fan-out is the write's cost too)."""


def by_target(results: list[ProbeResult]) -> dict[tuple[str, str], list[ProbeResult]]:
    """The rounds of each (endpoint, target), in the order they ran."""
    grouped: dict[tuple[str, str], list[ProbeResult]] = {}
    for result in results:
        grouped.setdefault((result.endpoint, result.target), []).append(result)
    return grouped


def expand(template: str, fixture: dict[str, Any], count: int, rng: random.Random) -> list[str]:
    cursors = fixture.get("cursors", {})
    pools: dict[str, list[Any]] = {
        "post_id": fixture.get("published_post_ids", []),
        "author_id": fixture.get("author_ids", []),
        "newest_cursor": cursors.get(NEWEST, []),
        "oldest_cursor": cursors.get(OLDEST, []),
        "deep_cursor": fixture.get("deep_cursors", []),
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


def pooled(rounds: list[ProbeResult]) -> ProbeResult:
    """One target's rounds of one probe as one result: requests, seconds and CPU summed (so
    CPU per request is over all rounds), latencies the median round's."""
    first = rounds[0]
    requests = sum(r.requests for r in rounds)
    seconds = sum(r.seconds for r in rounds)
    server_s = sum(r.server_cpu_s for r in rounds)
    db = [r.database_cpu_s for r in rounds]
    database_s = None if any(d is None for d in db) else sum(d or 0.0 for d in db)
    cpu = server_s + (database_s or 0.0)
    return ProbeResult(
        endpoint=first.endpoint,
        target=first.target,
        generator=first.generator,
        requests=requests,
        errors=sum(r.errors for r in rounds),
        seconds=seconds,
        rps=requests / seconds if seconds else 0.0,
        server_cpu_s=server_s,
        database_cpu_s=database_s,
        cpu_ms_per_request=1000 * cpu / requests if requests else None,
        app_ms_per_request=1000 * server_s / requests if requests else None,
        server_cores=statistics.mean(r.server_cores for r in rounds),
        p50_ms=statistics.median(r.p50_ms for r in rounds),
        p99_ms=statistics.median(r.p99_ms for r in rounds),
        error_detail="; ".join(r.error_detail for r in rounds if r.error_detail),
        rounds=len(rounds),
        backlog_s=sum(r.backlog_s for r in rounds),
    )


def median_ratio(
    numerators: list[ProbeResult], denominators: list[ProbeResult], key: str
) -> float | None:
    """The median over rounds of numerator.key / denominator.key (round i against round i)."""
    ratios = []
    for above, below in zip(numerators, denominators, strict=False):
        a, b = getattr(above, key), getattr(below, key)
        if a is None or not b:
            return None
        ratios.append(a / b)
    return statistics.median(ratios) if ratios else None


@dataclass(frozen=True)
class Write:
    """A write probe (`body` in its spec): the method, the JSON body (`{n}` made unique per
    request) and the bearer tokens it rotates over (the fixture's seeded users)."""

    method: str
    body: str
    tokens: list[str]


def write_of(spec: dict[str, Any], fixture: dict[str, Any]) -> Write | None:
    if "body" not in spec:
        return None
    return Write(spec.get("method", "POST"), spec["body"], list(fixture["tokens"]))


def probe_headers(spec: dict[str, Any], fixture: dict[str, Any]) -> dict[str, str]:
    """`auth = "<reader>"` in a probe's spec: that seeded reader's bearer token (the fixture's
    `readers`), sent with every request of the probe and of its parity check."""
    reader = spec.get("auth")
    return {} if reader is None else {"Authorization": f"Bearer {fixture['readers'][reader]}"}


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
    round_no: int = 0,
    headers: dict[str, str] | None = None,
    connections: int | None = None,
    write: Write | None = None,
    settle: Callable[[], float] | None = None,
) -> ProbeResult:
    """`settle`: waits until the target's background work for the load is done (returns the
    seconds it took), after the warm-up and inside the measured window after the load."""
    rng = random.Random(f"{endpoint}:{server.name}")
    paths = expand(template, fixture, PATHS_PER_PROBE, rng)
    name = f"probe_{slug(endpoint)}_{server.name}_r{round_no}"
    paths_file = out / "probes" / f"{name}.json"
    paths_file.parent.mkdir(exist_ok=True)
    paths_file.write_text(json.dumps(paths), encoding="utf-8")
    script = paths_file.with_suffix(".lua")
    if wrk and write:
        sent = {**(headers or {}), "Content-Type": "application/json"}
        write_script(paths, script, sent, method=write.method, body=write.body, tokens=write.tokens)
    elif wrk:
        write_script(paths, script, headers or {})
    connections = connections or knobs.probe_connections

    def load(seconds: int, stage: str) -> Load:
        log = out / "probes" / f"{name}.{stage}"
        if wrk:
            return run_wrk(
                wrk,
                server.url,
                script,
                seconds=seconds,
                connections=connections,
                log=log.with_suffix(f".{stage}.log"),
            )
        if headers or write:
            raise SystemExit(f"{endpoint}: a signed-in probe needs wrk (BENCH_GENERATOR=wrk)")
        return probe_with_locust(
            server.url, paths_file, seconds=seconds, users=connections, prefix=log
        )

    say(
        f"probe {endpoint} -> {server.name} (round {round_no + 1}/{knobs.probe_rounds}): "
        f"{knobs.probe_warmup}s warm-up, {knobs.probe_duration}s measured"
    )
    if knobs.probe_warmup > 0:
        load(knobs.probe_warmup, "warmup")
    if settle:
        settle()
    result: list[Load] = []
    backlog: list[float] = []

    def measured_load() -> None:
        result.append(load(knobs.probe_duration, "measured"))
        backlog.append(settle() if settle else 0.0)

    window = Meter(server.pid, postmaster).measure(measured_load)
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
        round_no=round_no,
        backlog_s=backlog[0],
    )
