"""`make bench-scale`'s gate: a read's figure at each data size over its figure at the first."""

from dataclasses import dataclass
from typing import Any

from loadtests.bench.gates import Gate


def label(size: int) -> str:
    """100000 -> `100k`, 5000000 -> `5M`."""
    if size >= 1_000_000 and size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    if size >= 1_000 and size % 1_000 == 0:
        return f"{size // 1_000}k"
    return str(size)


@dataclass(frozen=True)
class Point:
    """One read at one data size: its rounds pooled (latencies: the median round's)."""

    size: int
    endpoint: str
    p50_ms: float
    p99_ms: float
    rps: float
    requests: int
    errors: int
    cpu_ms_per_request: float | None
    db_ms_per_request: float | None


def growth(points: list[Point], endpoint: str, size: int, metric: str) -> float | None:
    """`metric` of `endpoint` at `size` over its value at the smallest size measured."""
    mine = {p.size: p for p in points if p.endpoint == endpoint}
    if size not in mine or not mine:
        return None
    base = getattr(mine[min(mine)], metric)
    value = getattr(mine[size], metric)
    return None if base is None or value is None or base <= 0 else float(value / base)


def growth_gates(
    points: list[Point], probes: dict[str, dict[str, Any]], *, max_growth: float, gated: list[str]
) -> list[Gate]:
    """Per read: zero errors at every size, and each `gated` figure at every larger size at
    most `max_growth` times the smallest size's; `gate = false` reads are reported only."""
    gates: list[Gate] = []
    sizes = sorted({p.size for p in points})
    for endpoint, spec in probes.items():
        enforced = spec.get("gate", True) is not False
        note = "" if enforced else "reported only"
        mine = {p.size: p for p in points if p.endpoint == endpoint}
        for size in sizes:
            if size not in mine:
                continue
            p = mine[size]
            ok = p.errors == 0 and p.requests > 0
            check = f"errors at {label(size)}"
            gates.append(Gate("scale", endpoint, check, 0, p.errors, ok or not enforced, note))
            if size == min(mine):
                continue
            for metric in gated:
                value = growth(points, endpoint, size, metric)
                passed = value is not None and value <= max_growth
                check = f"{metric} {label(size)}/{label(min(mine))}"
                why = note or ("" if value is not None else "no figure at the first size")
                gates.append(
                    Gate("scale", endpoint, check, max_growth, value, passed or not enforced, why)
                )
    return gates
