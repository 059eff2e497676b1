# Inkwell: every target bootstraps .venv from the pinned dependencies in pyproject.toml, with
# only the group it needs: runtime for run/worker/migrate, `dev` for lint/typecheck/test,
# `bench` for the benchmarks (pyproject.toml [project.optional-dependencies]).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
GRACEFUL_TIMEOUT ?= 20
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check --no-compile
RUNTIME_STAMP := $(VENV)/.installed-runtime
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: run test test-quick lint fmt typecheck migrate admin revision db-up db-down clean seed bench bench-down bench-micro bench-scale worker chaos

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The service's own dependencies only, as the image installs them: pyproject's `dependencies`,
# not the project itself (`make run` serves from the checkout; no isolated build of an
# editable wheel: ~6 s less before the first request).
RUNTIME_REQUIREMENTS := $(VENV)/runtime-requirements.txt
$(RUNTIME_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"], sep="\n")' >$(RUNTIME_REQUIREMENTS)
	$(PIP) -r $(RUNTIME_REQUIREMENTS)
	@touch $@

# `dev`: test, lint and type-check tools (and, through it, `bench` and `tracing`).
$(STAMP): pyproject.toml | $(BIN)/python
	$(PIP) -e '.[dev]'
	@touch $@ $(RUNTIME_STAMP) $(BENCH_STAMP)

$(BENCH_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) -e '.[bench]'
	@touch $@ $(RUNTIME_STAMP)

# Settings come from the environment, proxy trust included: behind a proxy on this machine,
# `PROXY_HEADERS=true make run` (FORWARDED_ALLOW_IPS, default 127.0.0.1,::1: docs/security.md).
run: $(RUNTIME_STAMP) migrate
	$(BIN)/python -m service.serve --host $(HOST) --port $(PORT) \
		--timeout-graceful-shutdown $(GRACEFUL_TIMEOUT)

# The job worker as its own process (outbox jobs, retries, periodic purges); run the service
# with JOBS_EMBEDDED=false when these do the work. See docs/operations.md.
worker: $(RUNTIME_STAMP) migrate
	$(BIN)/python -m service.worker

migrate: $(RUNTIME_STAMP)
	$(BIN)/alembic upgrade head

# The first admin (SPEC: Moderation): an existing user of DATABASE_URL gets the admin role.
admin: $(RUNTIME_STAMP)
	@test -n "$(username)" || { echo 'usage: make admin username=NAME'; exit 2; }
	$(BIN)/python -m service.moderation.cli make-admin "$(username)"

revision: $(STAMP)
	@test -n "$(m)" || { echo 'usage: make revision m="what changed"'; exit 2; }
	$(BIN)/alembic revision --autogenerate -m "$(m)"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/hadolint Dockerfile

typecheck: $(STAMP)
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# pytest-xdist workers: most tests wait (servers, PostgreSQL, restarts), so more workers than
# cores. `--dist loadgroup` keeps the `exclusive` tests on one worker; no reordering of the
# groups: conftest.py's order (slow first, exclusive last) stands (docs/testing.md).
JOBS ?= 4
PARALLEL := -n $(JOBS) --dist loadgroup --no-loadscope-reorder

# Everything, under coverage (combined across the workers by pytest-cov); fails below
# fail_under (pyproject.toml). The 25 slowest tests are listed at the end.
test: lint typecheck
	$(BIN)/pytest $(PARALLEL) --cov --cov-report=term --durations=25 $(PYTEST_ARGS)

# The inner loop (< 60 s): SQLite and in-process tests only, no coverage, no lint
# (conftest.py's --quick says what it leaves out).
test-quick: $(STAMP)
	$(BIN)/pytest $(PARALLEL) --quick --durations=10 $(PYTEST_ARGS)

# Benchmark data set into DATABASE_URL (PostgreSQL); skipped when already loaded identically.
seed: $(RUNTIME_STAMP)
	$(BIN)/python -m loadtests.seed $(SEED_ARGS)

# Self-contained: a private PostgreSQL per checkout (/tmp/inkwell-bench-<uid>-<hash>) unless
# BENCH_DATABASE_URL is set, migrate, seed, service + reference + idiomatic apps, wrk probes
# (server CPU per request), Locust scenarios, gates, bench-results/<run>/index.html.
# Stops the cluster it started unless BENCH_KEEP=1. Knobs: docs/performance.md.
bench: $(BENCH_STAMP)
	$(BIN)/python -m loadtests.bench

# The data size curve: the same private cluster, the posts grown in place 100k -> 1M -> 5M
# (INSERT ... SELECT generate_series, timed per step), the service's reads probed by wrk at 4
# connections at each size, gated on growth ([scale] in loadtests/thresholds.toml);
# bench-results/<run>-scale/index.html. BENCH_SCALE_SIZES=100000,1000000 for a shorter run.
# A grown database is re-seeded from zero by the next `make bench` / `make bench-scale`.
bench-scale: $(BENCH_STAMP)
	$(BIN)/python -m loadtests.bench scale

# Stop this checkout's private benchmark cluster (left running by BENCH_KEEP=1).
bench-down: $(BENCH_STAMP)
	$(BIN)/python -m loadtests.bench down

# pytest-benchmark micro-benchmarks (not part of `make test`) against the same seeded database;
# stops the private cluster afterwards when it started it (unless BENCH_KEEP=1).
bench-micro: $(BENCH_STAMP)
	@was="$$($(BIN)/python -m loadtests.bench status)"; \
	url="$$($(BIN)/python -m loadtests.bench prepare)" || exit $$?; \
	BENCH_DATABASE_URL="$$url" $(BIN)/pytest benchmarks -p no:locust \
		--benchmark-columns=min,median,mean,max,ops,rounds --benchmark-sort=name $(PYTEST_ARGS); \
	rc=$$?; \
	if [[ $$was != running && "$${BENCH_KEEP:-0}" != 1 ]]; then $(BIN)/python -m loadtests.bench down; fi; \
	exit $$rc

# `make db-up ha=1`: the HA cluster instead (etcd + Patroni: primary, synchronous standby, async
# replica; scripts/ha-up.sh, docs/scaling.md); `make db-down ha=1` stops it.
db-up:
	scripts/$(if $(filter 1 yes true,$(ha)),ha-up,db-up).sh

# `make db-down purge=1` also deletes the cluster's data directory (CLUSTER_DIR, .cluster).
db-down:
	scripts/$(if $(filter 1 yes true,$(ha)),ha-down,db-down).sh $(if $(filter 1 yes true,$(purge)),--purge)

# Chaos run (issue 27): a seeded, randomized fault schedule on the HA cluster (started if needed,
# scripts/ha-up.sh; TEST_HA_* name another) against 2 app instances and a separate worker under
# recorded clients, then the checker on the history and the final database; exits 1 on any
# violation. `make chaos seconds=600 seed=N` (the seed is printed; a random one by default);
# results in chaos-results/<time>/ (history.jsonl, report.md, the processes' logs).
seconds ?= 600
chaos: $(STAMP)
	$(BIN)/python -m loadtests.chaos --seconds $(seconds) $(if $(seed),--seed $(seed)) $(CHAOS_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# Container deployment, with podman (`../shared/container/base-image.sh` prepares a machine
# without a registry). Not part of `make test`: tests/container/ is marked `container`, which
# pyproject's addopts deselect; these targets select it. See docs/deploy.md.
.PHONY: container-test compose-test compose-up compose-down
CONTAINER_STAMP := $(VENV)/.installed-container

$(CONTAINER_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,container]'
	@touch $@

# Build the Dockerfile, run the migration job and the service, SIGTERM it under writes.
container-test: $(STAMP)
	$(BIN)/pytest tests/container/test_image.py -m container -s $(PYTEST_ARGS)

# compose.yaml + compose.local.yaml up (two apps behind nginx, primary + replica, PgBouncer),
# driven through nginx, then taken down.
compose-test: $(CONTAINER_STAMP)
	$(BIN)/pytest tests/container/test_compose.py -m container -s $(PYTEST_ARGS)

compose-up: $(CONTAINER_STAMP)
	WITH_LOCUST=$${WITH_LOCUST:-1} deploy/local-images/compose-up.sh

compose-down: $(CONTAINER_STAMP)
	deploy/local-images/compose-down.sh
