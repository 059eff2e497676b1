"""`python -m loadtests.chaos.check HISTORY DATABASE_URL`: the checker on a finished run."""

import argparse
import asyncio
import sys
from pathlib import Path

from loadtests.chaos import state
from loadtests.chaos.checker import check
from loadtests.chaos.history import read_history
from loadtests.chaos.report import render


async def main(history: Path, database_url: str) -> int:
    """Waits for the outbox to drain, then checks; 1 on any violation."""
    await state.wait_drained(database_url)
    records = read_history(history)
    snapshot = await state.load(database_url)
    violations = check(records, snapshot)
    sys.stdout.write(render(records, snapshot, violations) + "\n")
    return 1 if violations else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("history", type=Path)
    parser.add_argument("database_url")
    options = parser.parse_args()
    sys.exit(asyncio.run(main(options.history, options.database_url)))
