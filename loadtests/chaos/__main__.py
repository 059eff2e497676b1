"""`python -m loadtests.chaos [--seconds 600] [--seed N] [--out DIR]`: the run and its check."""

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path

from loadtests.chaos.run import Config, run
from loadtests.chaos.schedule import SKIPPED


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--scale", type=int, default=1, help="clients per kind, multiplied")
    parser.add_argument("--keep-database", action="store_true", help="for the checker alone")
    options = parser.parse_args()
    seed = options.seed if options.seed is not None else random.randrange(2**31)
    folder = options.out or Path("chaos-results") / time.strftime("%Y%m%d-%H%M%S")
    sys.stdout.write(f"chaos: seed {seed}, {options.seconds:.0f} s, results in {folder}\n")
    for kind, why in SKIPPED.items():
        sys.stdout.write(f"chaos: {kind} skipped: {why}\n")
    sys.stdout.flush()
    scale = options.scale
    config = Config(
        seconds=options.seconds,
        seed=seed,
        folder=folder,
        writers=3 * scale,
        likers=2 * scale,
        followers=2 * scale,
        editors=1 * scale,
        readers=1 * scale,
        feeds=2 * scale,
        keep_database=options.keep_database,
    )
    outcome = asyncio.run(run(config))
    report = f"{outcome.report}\nhistory: {outcome.history} (seed {seed})\n"
    if options.keep_database:
        report += f"database (kept): {outcome.database_url}\n"
    (folder / "report.md").write_text(report)
    sys.stdout.write(report)
    return 1 if outcome.violations else 0


if __name__ == "__main__":
    sys.exit(main())
