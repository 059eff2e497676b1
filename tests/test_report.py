"""The run says which backends it uses and why tests were deselected (tests/conftest.py hooks).

Checked on a real pytest run of this suite (collection only) in a subprocess.
"""

import os
import re
import subprocess
import sys

from tests.support.paths import ROOT

MODULES = ["tests/kit/test_errors.py", "tests/posts/test_router.py", "tests/users/test_router.py"]


def collect(env: dict[str, str]) -> str:
    environment = {k: v for k, v in os.environ.items() if k not in {"CI", "TEST_PGBOUNCER_URL"}}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-p", "no:cacheprovider", *MODULES],
        cwd=ROOT,
        env=environment | env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def deselected(output: str) -> tuple[int, dict[str, int]]:
    """The summary's total and its reason lines (reason -> count)."""
    total = int(re.search(r"-+ (\d+) deselected -+", output)[1])  # type: ignore[index]
    reasons = {m[2]: int(m[1]) for m in re.finditer(r"^  (\d+) (.+)$", output, re.MULTILINE)}
    return total, reasons


def test_local_run_names_sqlite_and_postgresql_and_why_tests_are_deselected() -> None:
    output = collect({})
    assert "backends: sqlite, postgresql (test ids end in [sqlite]/[postgresql])" in output
    assert "pgbouncer: not run (TEST_PGBOUNCER_URL unset" in output
    total, reasons = deselected(output)
    assert reasons["postgres_only: no [sqlite] run"] >= 1
    assert sum(reasons.values()) == total
    assert f"({total} deselected)" in output


def test_pgbouncer_run_is_named_and_its_deselections_explained() -> None:
    url = "postgresql+asyncpg://postgres@127.0.0.1:6432/inkwell"
    output = collect({"TEST_PGBOUNCER_URL": url})
    assert "backends: sqlite, postgresql, pgbouncer" in output
    assert f"pgbouncer: the API modules through {url}" in output
    assert re.search(r"<Coroutine \w+\[pgbouncer\]>", output)
    total, reasons = deselected(output)
    assert reasons["[pgbouncer] runs only the API modules (test_router.py, tests/posts/)"] >= 1
    assert sum(reasons.values()) == total
