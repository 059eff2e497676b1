"""A wrong DATABASE_URL ends `make migrate` / `make run` with one clear line, not a traceback."""

import os
import subprocess
import sys

import pytest

from tests.support.network import free_port
from tests.support.paths import ROOT


def _migrate(url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "ENVIRONMENT": "test"}
    return subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (f"postgresql://postgres@127.0.0.1:{free_port()}/inkwell", "Connect call failed"),
        (f"postgres://postgres@127.0.0.1:{free_port()}/inkwell", "Connect call failed"),
        ("postgresql://postgres@127.0.0.1:5432/inkwell_no_such_database", "does not exist"),
    ],
    ids=["unreachable", "unreachable-postgres-scheme", "missing-database"],  # same in every worker
)
def test_unreachable_or_missing_database_is_one_line(url: str, reason: str) -> None:
    result = _migrate(url)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("inkwell: cannot reach the database postgresql+asyncpg://")
    assert reason in lines[0]
    assert "Traceback" not in result.stderr


def test_password_is_not_shown() -> None:
    result = _migrate(f"postgresql://postgres:s3cret@127.0.0.1:{free_port()}/inkwell")
    assert result.returncode == 1
    assert "s3cret" not in result.stderr
    assert "***" in result.stderr
