"""`make bench-scale`: the same reads at 100k, 1M and 5M posts, p50/p99 per size, gated on growth.

The harness's own pieces: the private cluster, migrations and seed (`open_database`), the
service under the bench's settings (`servers.server`, `run.service_env`), wrk probes with /proc
CPU (`probes.run_probe`), pooled rounds (`probes.pooled`). The posts grow in place between
sizes (loadtests/bench/grow.py, timed per step); [scale] in loadtests/thresholds.toml lists
the reads and the gate. Report: bench-results/<UTC time>-scale/index.html, the same tables on
stdout, scale.csv, seeding.csv, summary.json, scale.png.
"""

import asyncio
import json
import os
import random
import secrets
import time
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from loadtests.bench import grow, scale_report
from loadtests.bench.cluster import PROBE_LISTINGS, _dsn, reader_tokens, seed_params
from loadtests.bench.config import THRESHOLDS, Knobs, say
from loadtests.bench.probes import ProbeResult, by_target, pooled, probe_headers, run_probe
from loadtests.bench.run import close_database, open_database, service_env
from loadtests.bench.scale_explain import explain
from loadtests.bench.scale_gates import Point, growth_gates, label
from loadtests.bench.servers import server
from loadtests.bench.wrk import find_wrk
from loadtests.cursors import NEWEST, Cursors


def _ints(name: str) -> list[int] | None:
    raw = os.environ.get(name, "").replace("_", "").strip()
    return [int(part) for part in raw.split(",") if part.strip()] if raw else None


@dataclass(frozen=True)
class ScaleConfig:
    sizes: list[int]
    connections: int
    max_growth: float
    gated: list[str]
    cursor_depth: int
    probes: dict[str, dict[str, Any]]
    jobs: int

    @classmethod
    def load(cls) -> "ScaleConfig":
        spec = tomllib.loads(THRESHOLDS.read_text(encoding="utf-8"))["scale"]
        sizes = sorted(_ints("BENCH_SCALE_SIZES") or spec["sizes"])
        if sizes[0] < seed_params().posts:
            raise SystemExit(f"the first size must be at least the seed's {seed_params().posts}")
        return cls(
            sizes=sizes,
            connections=(_ints("BENCH_SCALE_CONNECTIONS") or [spec["connections"]])[0],
            max_growth=float(spec["max_growth"]),
            gated=list(spec["gated"]),
            cursor_depth=int(spec["cursor_depth"]),
            probes=dict(spec["probes"]),
            jobs=(_ints("BENCH_SCALE_JOBS") or [2])[0],
        )


def points_of(size: int, results: list[ProbeResult]) -> list[Point]:
    points = []
    for (endpoint, _), rounds in by_target(results).items():
        p = pooled(rounds)
        db = None if p.database_cpu_s is None or not p.requests else p.database_cpu_s
        points.append(
            Point(
                size=size,
                endpoint=endpoint,
                p50_ms=p.p50_ms,
                p99_ms=p.p99_ms,
                rps=p.rps,
                requests=p.requests,
                errors=p.errors,
                cpu_ms_per_request=p.cpu_ms_per_request,
                db_ms_per_request=None if db is None else 1000 * db / p.requests,
            )
        )
    return points


async def base_authors(url: str) -> list[int]:
    """Authors with at least 20 posts at the first size: the same ones at every size."""
    conn = await asyncpg.connect(_dsn(url))
    try:
        rows = await conn.fetch(
            "SELECT author_id FROM posts GROUP BY author_id HAVING count(*) >= 20 ORDER BY 1"
        )
        return [int(r["author_id"]) for r in rows]
    finally:
        await conn.close()


async def make_fixture(url: str, secret: str, authors: list[int], depth: int) -> dict[str, Any]:
    """Published post ids drawn over the whole table, cursors `depth` posts into the
    newest-first listing, the feed readers' tokens."""
    conn = await asyncpg.connect(_dsn(url))
    try:
        top = int(await conn.fetchval("SELECT max(id) FROM posts"))
        rng = random.Random(top)
        picks = sorted({rng.randint(1, top) for _ in range(1500)})
        ids = await conn.fetch(
            "SELECT id FROM posts WHERE id = ANY($1::bigint[])"
            " AND status = 'published' AND deleted_at IS NULL LIMIT 1000",
            picks,
        )
        deep = await conn.fetch(
            "SELECT created_at, id FROM posts WHERE status = 'published' AND deleted_at IS NULL"
            " ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT 50",
            depth - 1,
        )
    finally:
        await conn.close()
    cursors = Cursors(secret)
    return {
        "published_post_ids": [int(r["id"]) for r in ids],
        "author_ids": authors,
        "deep_cursors": [
            cursors.encode(NEWEST, [r["created_at"], r["id"]], PROBE_LISTINGS[NEWEST]) for r in deep
        ],
        "readers": reader_tokens(secret),
        "tokens": [],
    }


def _probe_size(
    knobs: Knobs,
    config: ScaleConfig,
    url: str,
    postmaster: int | None,
    secret: str,
    here: Path,
    fixture: dict[str, Any],
    wrk: str | None,
) -> list[ProbeResult]:
    """Every read, `BENCH_PROBE_ROUNDS` interleaved rounds, on a service started for this size."""
    results: list[ProbeResult] = []
    with server("service", knobs.workers, service_env(url, secret, knobs), here) as srv:
        for round_no in range(knobs.probe_rounds):
            for endpoint, spec in config.probes.items():
                results.append(
                    run_probe(
                        endpoint,
                        spec["path"],
                        srv,
                        wrk=wrk,
                        knobs=knobs,
                        fixture=fixture,
                        postmaster=postmaster,
                        out=here,
                        round_no=round_no,
                        headers=probe_headers(spec, fixture),
                        connections=config.connections,
                    )
                )
    return results


def bench_scale() -> int:
    knobs = Knobs.from_env()
    config = ScaleConfig.load()
    wrk, generator = find_wrk("wrk")  # the feed probe sends a token: wrk only
    out = knobs.out / (datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-scale")
    out.mkdir(parents=True)
    started = time.monotonic()
    steps: list[grow.Step] = []
    points: list[Point] = []
    loads: dict[int, tuple[float, float]] = {}

    def report(database: str) -> bool:
        """Written after every size (a stopped run keeps what it measured) and at the end."""
        limit, gated = config.max_growth, config.gated
        gates = growth_gates(points, config.probes, max_growth=limit, gated=gated)
        passed = bool(gates) and all(g.passed for g in gates)
        probe = (
            f"{generator}; {config.connections} connections, {knobs.probe_rounds} rounds of "
            f"{knobs.probe_warmup} s warm-up + {knobs.probe_duration} s measured"
        )
        facts = [
            ("probe", probe),
            ("service", f"{knobs.workers} uvicorn workers, DB pool {knobs.pool_size}"),
            ("gate", f"{', '.join(config.gated)} at each size <= {config.max_growth}x the first"),
            ("sizes", ", ".join(label(s) for s in config.sizes)),
            ("seeding", f"{config.jobs} sessions"),
            ("database", database),
            ("elapsed", f"{time.monotonic() - started:.0f} s"),
        ]
        scale_report.write(
            out, passed=passed, points=points, steps=steps, gates=gates, loads=loads, facts=facts
        )
        return passed

    db = open_database(knobs)
    try:
        secret = secrets.token_urlsafe(48)
        authors = asyncio.run(base_authors(db.url))
        for size in config.sizes:
            say(f"posts -> {label(size)} ({config.jobs} sessions)")
            step = asyncio.run(grow.grow_to(db.url, size, seed_params(), config.jobs))
            say(
                f"{label(size)}: +{step.added} posts in {step.total_s:.1f}s (insert "
                f"{step.insert_s:.1f}, indexes {step.index_s:.1f}, VACUUM {step.vacuum_s:.1f})"
            )
            steps.append(step)
            here = out / label(size)
            here.mkdir()
            fixture = asyncio.run(make_fixture(db.url, secret, authors, config.cursor_depth))
            (here / "fixture.json").write_text(json.dumps(fixture), encoding="utf-8")
            try:
                plans = asyncio.run(explain(db.url, fixture, secret))
            except (asyncpg.PostgresError, ValueError, KeyError) as error:  # a report, not a gate
                plans = f"EXPLAIN failed: {error!r}"
                say(plans)
            (here / "explain.txt").write_text(plans, encoding="utf-8")
            before = os.getloadavg()[0]
            results = _probe_size(knobs, config, db.url, db.postmaster, secret, here, fixture, wrk)
            loads[size] = (before, os.getloadavg()[0])
            points += points_of(size, results)
            report(f"measured up to {label(size)}")
    finally:
        database_note = close_database(db, knobs)
    say(database_note)
    passed = report(database_note)
    say(f"{'PASSED' if passed else 'FAILED'}: report in {out}/index.html")
    return 0 if passed else 1
