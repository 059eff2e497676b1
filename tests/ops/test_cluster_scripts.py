"""`make db-down` stops the private cluster of scripts/db-up.sh; `purge=1` also deletes it.

A real primary (PRIMARY_ONLY=1, ~4 s) on free ports in a directory of its own, never the
fixed-port cluster other tests share.
"""

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import databases
from tests.support.network import free_port
from tests.support.paths import ROOT


def _run(command: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def _accepting(port: str) -> bool:
    ready = subprocess.run(
        ["pg_isready", "-q", "-h", "127.0.0.1", "-p", port], check=False, timeout=30
    )
    return ready.returncode == 0


@pytest.fixture
def cluster_env() -> Iterator[dict[str, str]]:
    if shutil.which("pg_isready") is None or not list(Path("/usr/lib/postgresql").glob("*/bin")):
        databases.unavailable("PostgreSQL server binaries are not installed")
    # Under /tmp, not pytest's tmp_path: the postgres user must reach it when we are root
    # (db-up.sh takes an empty directory and gives it to that user).
    directory = Path(tempfile.mkdtemp(prefix="inkwell-purge-", dir="/tmp"))
    env = os.environ | {
        "CLUSTER_DIR": str(directory),
        "PRIMARY_PORT": str(free_port()),
        "REPLICA_PORT": str(free_port()),
        "PGBOUNCER_PORT": str(free_port()),
        "PRIMARY_ONLY": "1",
    }
    try:
        yield env
    finally:
        subprocess.run(
            [str(ROOT / "scripts" / "db-down.sh"), "--purge"], env=env, capture_output=True
        )
        shutil.rmtree(directory, ignore_errors=True)


def test_db_down_stops_and_purge_deletes_the_data_directory(cluster_env: dict[str, str]) -> None:
    directory = Path(cluster_env["CLUSTER_DIR"])
    port = cluster_env["PRIMARY_PORT"]
    _run([str(ROOT / "scripts" / "db-up.sh")], cluster_env)
    assert (directory / "primary" / "PG_VERSION").exists()
    assert _accepting(port)

    _run(["make", "--no-print-directory", "db-down"], cluster_env)
    assert not _accepting(port)
    assert (directory / "primary" / "PG_VERSION").exists(), "without purge=1 the data stays"

    output = _run(["make", "--no-print-directory", "db-down", "purge=1"], cluster_env)
    assert "scripts/db-down.sh --purge" in output
    assert f"deleted {directory}" in output
    assert not directory.exists()
