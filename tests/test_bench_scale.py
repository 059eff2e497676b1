"""`make bench-scale`'s pure logic: the growth gate (loadtests/bench/scale_gates.py) and the
seeding's id ranges (loadtests/bench/grow.py)."""

from typing import Any

import pytest

from loadtests.bench.grow import ranges
from loadtests.bench.scale_gates import Point, growth, growth_gates, label

PROBES: dict[str, dict[str, Any]] = {
    "GET /a": {"path": "/a"},
    "GET /search": {"path": "/s", "gate": False},
}


def point(endpoint: str, size: int, p50: float, errors: int = 0) -> Point:
    return Point(
        size=size,
        endpoint=endpoint,
        p50_ms=p50,
        p99_ms=3 * p50,
        rps=100.0,
        requests=500,
        errors=errors,
        cpu_ms_per_request=1.0,
        db_ms_per_request=0.5,
    )


def gates_of(points: list[Point]) -> dict[tuple[str, str], tuple[float | None, bool, str]]:
    found = growth_gates(points, PROBES, max_growth=1.5, gated=["p50_ms"])
    return {(g.endpoint, g.check): (g.value, g.passed, g.note) for g in found}


def test_labels() -> None:
    assert [label(n) for n in (100_000, 1_000_000, 5_000_000, 1_500, 123)] == [
        "100k",
        "1M",
        "5M",
        "1500",
        "123",
    ]


def test_each_size_is_compared_with_the_first_not_the_previous() -> None:
    points = [point("GET /a", 100_000, 2.0), point("GET /a", 1_000_000, 2.8)]
    points.append(point("GET /a", 5_000_000, 3.2))  # 1.14x the 1M figure, 1.6x the 100k one
    gates = gates_of(points)
    assert gates[("GET /a", "p50_ms 1M/100k")][0] == pytest.approx(1.4)
    assert gates[("GET /a", "p50_ms 1M/100k")][1:] == (True, "")
    assert gates[("GET /a", "p50_ms 5M/100k")][0] == pytest.approx(1.6)
    assert gates[("GET /a", "p50_ms 5M/100k")][1:] == (False, "")
    assert gates[("GET /a", "errors at 5M")][1]


def test_the_limit_itself_passes() -> None:
    gates = gates_of([point("GET /a", 100_000, 2.0), point("GET /a", 1_000_000, 3.0)])
    assert gates[("GET /a", "p50_ms 1M/100k")][:2] == (1.5, True)


def test_a_report_only_read_never_fails_but_is_reported() -> None:
    points = [point("GET /search", 100_000, 10.0), point("GET /search", 5_000_000, 900.0, 4)]
    gates = gates_of(points)
    assert gates[("GET /search", "p50_ms 5M/100k")] == (90.0, True, "reported only")
    assert gates[("GET /search", "errors at 5M")][1:] == (True, "reported only")


def test_errors_fail_a_gated_read() -> None:
    gates = gates_of([point("GET /a", 100_000, 2.0, errors=1), point("GET /a", 1_000_000, 2.0)])
    assert not gates[("GET /a", "errors at 100k")][1]
    assert gates[("GET /a", "p50_ms 1M/100k")][:2] == (1.0, True)


def test_a_read_missing_at_the_first_size_compares_with_its_own_first() -> None:
    points = [point("GET /a", 100_000, 2.0), point("GET /search", 1_000_000, 5.0)]
    points.append(point("GET /search", 5_000_000, 6.0))
    gates = gates_of(points)
    assert gates[("GET /search", "p50_ms 5M/1M")][0] == pytest.approx(1.2)
    assert growth(points, "GET /a", 5_000_000, "p50_ms") is None


def test_ranges_are_contiguous_disjoint_and_cover_the_ids() -> None:
    assert ranges(100_001, 1_000_000, 2) == [(100_001, 550_000), (550_001, 1_000_000)]
    assert ranges(1, 5, 3) == [(1, 2), (3, 4), (5, 5)]
    assert ranges(7, 8, 4) == [(7, 7), (8, 8)]
    assert ranges(10, 9, 2) == []
