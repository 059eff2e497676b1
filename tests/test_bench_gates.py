"""`make bench`'s probe gates (loadtests/bench/gates.py): interleaved rounds, pooled for the
report, a ratio gated as the median of the rounds' ratios (one noisy window moves one round)."""

from loadtests.bench.gates import probe_gates
from loadtests.bench.probes import ProbeResult, by_target, median_ratio, pooled

CONFIG = {
    "probes": {
        "GET /x": {"path": "/x", "min_reference_cpu_ratio": 0.5, "min_idiomatic_cpu_ratio": 3.0}
    }
}


def probe(target: str, round_no: int, cpu_s: float, requests: int = 1000) -> ProbeResult:
    return ProbeResult(
        endpoint="GET /x",
        target=target,
        generator="wrk",
        requests=requests,
        errors=0,
        seconds=10.0,
        rps=requests / 10.0,
        server_cpu_s=cpu_s * 0.75,
        database_cpu_s=cpu_s * 0.25,
        cpu_ms_per_request=1000 * cpu_s / requests,
        app_ms_per_request=750 * cpu_s / requests,
        server_cores=cpu_s * 0.075,
        p50_ms=10.0 + round_no,
        p99_ms=30.0 + round_no,
        round_no=round_no,
    )


def rounds(
    service: list[float], reference: list[float], idiomatic: list[float]
) -> list[ProbeResult]:
    results = []
    for i, cpu in enumerate(zip(service, reference, idiomatic, strict=True)):
        results += [
            probe(t, i, c) for t, c in zip(("service", "reference", "idiomatic"), cpu, strict=True)
        ]
    return results


def test_a_ratio_is_the_median_of_the_rounds_not_one_noisy_window() -> None:
    # Round 2's service window was noisy (3.0 s of CPU instead of 1.0 s).
    results = rounds(service=[1.0, 1.0, 3.0], reference=[0.6, 0.55, 0.6], idiomatic=[3.3, 3.2, 3.1])
    gates = {g.check: g for g in probe_gates(CONFIG, results, {})}
    assert gates["reference/service CPU per request"].value == 0.55
    assert gates["reference/service CPU per request"].passed
    assert gates["idiomatic/service CPU per request"].value == 3.2
    assert gates["idiomatic/service CPU per request"].passed
    assert gates["service errors"].passed


def test_a_gate_still_fails_when_most_rounds_miss_it() -> None:
    results = rounds(service=[1.0, 1.0, 1.0], reference=[0.45, 0.6, 0.48], idiomatic=[3, 3, 3])
    gates = {g.check: g for g in probe_gates(CONFIG, results, {})}
    assert gates["reference/service CPU per request"].value == 0.48
    assert not gates["reference/service CPU per request"].passed


def test_pooled_rounds_sum_requests_and_cpu() -> None:
    grouped = by_target(rounds(service=[1.0, 2.0, 3.0], reference=[1, 1, 1], idiomatic=[1, 1, 1]))
    service = pooled(grouped[("GET /x", "service")])
    assert (service.requests, service.rounds, service.seconds) == (3000, 3, 30.0)
    assert service.cpu_ms_per_request == 2.0  # 6 s of CPU over 3000 requests
    assert service.p50_ms == 11.0  # the median round's
    assert (
        median_ratio(grouped[("GET /x", "reference")], grouped[("GET /x", "service")], "rps") == 1
    )
