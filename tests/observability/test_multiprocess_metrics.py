"""Several uvicorn workers, one `/metrics`: PROMETHEUS_MULTIPROC_DIR aggregates them all."""

import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.migrations import migrated_database
from tests.support.servers import running_service

PATIENCE_SECONDS = 90.0
"""How long the second worker may take to start accepting (a busy 2-core machine: tens of s)."""


def _writers(metrics_dir: Path) -> set[str]:
    return {p.name.split("_")[-1] for p in metrics_dir.glob("histogram_*.db")}


@pytest.mark.slow("a real server with two worker processes, started and stopped")
async def test_two_workers_report_every_request(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'workers.db'}"
    await migrated_database(url)
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    async with running_service(url, tmp_path / "svc.log", workers=2, env=env) as svc:
        sent, deadline = 0, time.monotonic() + PATIENCE_SECONDS
        # A new connection each time, so that both workers get some of the requests; keep
        # going until both have (readiness only proves that one worker is up).
        while time.monotonic() < deadline and (sent < 40 or len(_writers(metrics_dir)) < 2):
            async with httpx.AsyncClient(base_url=svc.url) as client:
                assert (await client.get("/health/live")).status_code == 200
            sent += 1
        async with httpx.AsyncClient(base_url=svc.url) as client:
            scrapes = [(await client.get("/metrics")).text for _ in range(4)]
        writers = _writers(metrics_dir)

    assert len(writers) == 2, "both workers should have written samples"
    for text in scrapes:  # whichever worker answers, it reports the sum of both
        families = {f.name: f for f in text_string_to_metric_families(text)}
        counts = [
            s.value
            for s in families["http_request_duration_seconds"].samples
            if s.name.endswith("_count") and s.labels["route"] == "/health/live"
        ]
        assert sum(counts) == sent
