"""Paths, ports and every BENCH_* knob, read once (see the package docstring for the list)."""

import hashlib
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
THRESHOLDS = ROOT / "loadtests" / "thresholds.toml"
LOCUSTFILE = ROOT / "loadtests" / "locustfile.py"

TARGETS = ("service", "reference", "idiomatic")
"""Measured back to back in this order, per endpoint and per scenario."""

APPS = {
    "service": ["--factory", "service.main:create_app"],
    "reference": ["loadtests.reference.app:app"],
    "idiomatic": ["loadtests.idiomatic.app:app"],
}


def say(message: str) -> None:
    sys.stderr.write(f"[bench] {message}\n")
    sys.stderr.flush()


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _list(name: str) -> list[str] | None:
    """None when unset (= all); [] for `none`."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    if raw.lower() == "none":
        return []
    return [item.strip() for item in raw.split(",") if item.strip()]


def checkout_tag() -> str:
    """Stable per checkout and user: the private cluster's folder name under /tmp."""
    digest = hashlib.sha256(str(ROOT).encode()).hexdigest()[:10]
    return f"inkwell-bench-{os.getuid()}-{digest}"


@dataclass(frozen=True)
class Knobs:
    database_url: str | None
    duration: int
    users: int | None
    workers: int
    pool_size: int
    scenarios: list[str] | None
    probes: list[str] | None
    targets: list[str]
    generator: str
    probe_duration: int
    probe_warmup: int
    probe_rounds: int
    probe_connections: int
    keep: bool
    out: Path
    cluster_dir: Path
    pg_port: int | None

    @classmethod
    def from_env(cls) -> "Knobs":
        targets = _list("BENCH_TARGETS") or list(TARGETS)
        if "service" not in targets:
            targets.insert(0, "service")
        unknown = set(targets) - set(TARGETS)
        if unknown:
            raise SystemExit(f"BENCH_TARGETS: unknown {sorted(unknown)}; known: {TARGETS}")
        generator = os.environ.get("BENCH_GENERATOR", "auto").strip() or "auto"
        if generator not in ("auto", "wrk", "locust"):
            raise SystemExit("BENCH_GENERATOR must be auto, wrk or locust")
        cluster = os.environ.get("BENCH_CLUSTER_DIR") or str(
            Path(tempfile.gettempdir()) / checkout_tag()
        )
        port = os.environ.get("BENCH_PG_PORT", "").strip()
        return cls(
            database_url=os.environ.get("BENCH_DATABASE_URL") or None,
            duration=_int("BENCH_DURATION", 15),
            users=_int("BENCH_USERS", 0) or None,
            workers=_int("BENCH_WORKERS", os.cpu_count() or 1),
            pool_size=_int("BENCH_POOL_SIZE", 10),
            scenarios=_list("BENCH_SCENARIOS"),
            probes=_list("BENCH_PROBES"),
            targets=[t for t in TARGETS if t in targets],
            generator=generator,
            probe_duration=_int("BENCH_PROBE_DURATION", 5),
            probe_warmup=_int("BENCH_PROBE_WARMUP", 2),
            probe_rounds=max(1, _int("BENCH_PROBE_ROUNDS", 3)),
            probe_connections=_int("BENCH_PROBE_CONNECTIONS", 64),
            keep=os.environ.get("BENCH_KEEP", "0").strip() not in ("", "0", "false", "no"),
            out=ROOT / os.environ.get("BENCH_OUT", "bench-results"),
            cluster_dir=Path(cluster).resolve(),
            pg_port=int(port) if port else None,
        )
