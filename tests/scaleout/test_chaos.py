"""The CI version of `make chaos`: a seeded 75 s fault schedule on the HA cluster (scripts/ha-up.sh)
against 2 real app instances and a separate worker under 11 recorded clients, then the checker
on the history and the final database: 0 violations. The same runner and checker as `make
chaos` (loadtests/chaos/); the checker's own tests (that it can fail) are test_chaos_checker.py.

Figures: `.venv/bin/pytest tests/scaleout/test_chaos.py -s -p no:cacheprovider --no-cov` with
the TEST_HA_* lines of `make db-up ha=1` exported prints the run's table per fault kind."""

import sys
from pathlib import Path

import pytest

from loadtests.chaos.cluster import Cluster
from loadtests.chaos.history import read_history
from loadtests.chaos.run import Config, run
from loadtests.chaos.schedule import FaultKind, plan
from tests.support.ha import ha_cluster

SEED = 21
"""Its schedule starts with app SIGKILL, primary SIGKILL, switchover, Redis down, worker SIGKILL:
what fits in 75 s on a busy 2-core machine (`make chaos` runs every kind)."""
SECONDS = 75.0


@pytest.mark.exclusive("kills and switches over the HA cluster's nodes")
@pytest.mark.slow("a 75 s fault schedule, then the drain and the check (~2 min)")
async def test_a_seeded_chaos_run_breaks_no_promise(tmp_path: Path) -> None:
    ha = ha_cluster()
    config = Config(seconds=SECONDS, seed=SEED, folder=tmp_path)
    outcome = await run(config, Cluster(ha.url, ha.apis, ha.folder))
    sys.stdout.write(f"\nchaos (seed {SEED}, {SECONDS:.0f} s):\n{outcome.report}\n")
    records = read_history(outcome.history)
    injected = [r["kind"] for r in records if r["type"] == "fault"]
    skipped = next(r for r in records if r["type"] == "run")["skipped"]
    assert injected == [
        str(s.kind) for s in plan(SEED, len(injected), [FaultKind(k) for k in skipped])
    ]
    assert {"primary_kill", "app_kill"} <= set(injected), injected
    acknowledged = [r for r in records if r["type"] == "op" and r["status"] == 201]
    assert len(acknowledged) >= 50, outcome.report
    assert outcome.violations == [], outcome.report
