"""Several uvicorn workers, one `/metrics`: PROMETHEUS_MULTIPROC_DIR aggregates them all."""

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.ops.servers import migrated_database, running_service

REQUESTS = 40


async def test_two_workers_report_every_request(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'workers.db'}"
    await migrated_database(url)
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    async with running_service(url, tmp_path / "svc.log", workers=2, env=env) as svc:
        pids: set[str] = set()
        for _ in range(REQUESTS):
            # A new connection each time, so that both workers get some of the requests.
            async with httpx.AsyncClient(base_url=svc.url) as client:
                assert (await client.get("/health/live")).status_code == 200
        async with httpx.AsyncClient(base_url=svc.url) as client:
            scrapes = [(await client.get("/metrics")).text for _ in range(4)]
        pids = {p.name.split("_")[-1] for p in metrics_dir.glob("histogram_*.db")}

    assert len(pids) == 2, "both workers should have written samples"
    for text in scrapes:  # whichever worker answers, it reports the sum of both
        families = {f.name: f for f in text_string_to_metric_families(text)}
        counts = [
            s.value
            for s in families["http_request_duration_seconds"].samples
            if s.name.endswith("_count") and s.labels["route"] == "/health/live"
        ]
        assert sum(counts) == REQUESTS
