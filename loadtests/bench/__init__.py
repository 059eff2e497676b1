"""`make bench`: database, seed, the three targets, probes, Locust scenarios, gates, report.

    python -m loadtests.bench            # the whole run; exit 1 when a gate fails
    python -m loadtests.bench prepare    # database + migrations + seed; prints DATABASE_URL
    python -m loadtests.bench status     # is this checkout's private cluster running?
    python -m loadtests.bench down       # stop this checkout's private cluster
    python -m loadtests.bench scale      # `make bench-scale`: the data size curve (scale.py)

Targets, each under the same uvicorn settings (BENCH_WORKERS workers, uvloop, httptools, a
DB pool of BENCH_POOL_SIZE): the service, the reference (loadtests/reference/app.py,
Starlette + raw asyncpg) and the idiomatic app (loadtests/idiomatic/app.py, the SQLModel
guide's pattern). Per endpoint the three are measured back to back, so they share host noise.

1. Probes ([probes.*] in loadtests/thresholds.toml): wrk, else Locust (see the report), one
   endpoint at a time; the gate is server CPU per request (the target's uvicorn processes +
   the private PostgreSQL cluster, from /proc, sampled right around the measured window) of
   the reference and idiomatic apps over the service's. The rps ratio is reported. Before
   measuring, the JSON of each target is compared with the service's on live responses.
2. Scenarios ([scenarios.*]): Locust at 64 users, failures and p50/p99 gated on the service.
3. Report: bench-results/<UTC time>/index.html (banner naming every failed gate, side-by-side
   table, bench.png, links to Locust's pages), summary.json, probes.csv, gates.csv.

Environment (all optional):
  BENCH_DATABASE_URL   use this PostgreSQL instead of the private cluster (its CPU is then not
                       counted: server processes only)
  BENCH_KEEP=1         leave the private cluster running (the next run re-uses it, seeded)
  BENCH_CLUSTER_DIR    the private cluster's folder (/tmp/inkwell-bench-<uid>-<checkout hash>)
  BENCH_PG_PORT        its port when it is created (default: a free one in 59500-59899)
  BENCH_DURATION       seconds per Locust scenario run (15)
  BENCH_USERS          Locust users for every scenario (default: thresholds.toml, 64)
  BENCH_SCENARIOS      comma list of scenarios (default all; `none` for probes only)
  BENCH_PROBES         comma list of probe endpoints, by name or slug such as
                       get_posts_id (default all; `none` for scenarios only)
  BENCH_TARGETS        comma list among service,reference,idiomatic (default all three)
  BENCH_GENERATOR      auto (wrk, apt-get installed when root; else Locust), wrk, locust
  BENCH_PROBE_DURATION measured seconds per probe and target (8)
  BENCH_PROBE_WARMUP   unmeasured warm-up seconds before each (2)
  BENCH_PROBE_CONNECTIONS  concurrent connections of the probe (64)
  BENCH_WORKERS        uvicorn workers per target (CPU count)
  BENCH_POOL_SIZE      database pool size per worker, every target (10; no overflow)
  BENCH_OUT            results folder (bench-results)
  BENCH_POSTS / BENCH_USERS_SEED / BENCH_COMMENTS  data set size
Only 127.0.0.1 is loaded, and every step has a time bound.
"""
