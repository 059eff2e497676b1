"""Every gate of thresholds.toml evaluated on one run's numbers; a gate knows why it failed."""

from dataclasses import dataclass
from typing import Any

from loadtests.bench.locust_runs import ScenarioRun
from loadtests.bench.probes import ProbeResult, by_target, median_ratio, pooled


@dataclass
class Gate:
    scope: str  # "probe <endpoint>" or the scenario name
    endpoint: str
    check: str
    limit: float
    value: float | None
    passed: bool
    note: str = ""

    @property
    def label(self) -> str:
        return f"{self.scope} {self.endpoint} {self.check}"


def scenario_limits(config: dict[str, Any], scenario: str, endpoint: str) -> dict[str, Any]:
    limits = dict(config.get("defaults", {}))
    spec = config["scenarios"][scenario]
    limits.update({k: v for k, v in spec.items() if k != "endpoints"})
    limits.update(spec.get("endpoints", {}).get(endpoint, {}))
    return limits


def probe_gates(
    config: dict[str, Any], probes: list[ProbeResult], parity: dict[tuple[str, str], str | None]
) -> list[Gate]:
    """`probes`: every round. Errors count over all rounds; a ratio is the median over rounds
    of round i's ratio (loadtests/bench/probes.py)."""
    gates: list[Gate] = []
    rounds = by_target(probes)
    for endpoint, spec in config.get("probes", {}).items():
        service = rounds.get((endpoint, "service"))
        if service is None:
            continue  # not run (BENCH_PROBES)
        for target in ("service", "reference", "idiomatic"):
            if (endpoint, target) not in rounds:
                continue
            probe = pooled(rounds[(endpoint, target)])
            gates.append(
                Gate(
                    "probe",
                    endpoint,
                    f"{target} errors",
                    0,
                    probe.errors,
                    probe.errors == 0 and probe.requests > 0,
                    probe.error_detail or ("" if probe.requests else "no requests"),
                )
            )
            if target != "service":
                why = parity.get((endpoint, target))
                gates.append(
                    Gate("probe", endpoint, f"{target} same JSON", 1, None, why is None, why or "")
                )
        for target, key in (
            ("reference", "min_reference_cpu_ratio"),
            ("idiomatic", "min_idiomatic_cpu_ratio"),
        ):
            other = rounds.get((endpoint, target))
            if key not in spec or other is None:
                continue
            value = median_ratio(other, service, "cpu_ms_per_request")
            gates.append(
                Gate(
                    "probe",
                    endpoint,
                    f"{target}/service CPU per request",
                    spec[key],
                    value,
                    value is not None and value >= spec[key],
                    "" if value is not None else "not measured",
                )
            )
        if "max_p50_ms" in spec:
            p50 = pooled(service).p50_ms
            limit = spec["max_p50_ms"]
            gates.append(Gate("probe", endpoint, "service p50 ms", limit, p50, p50 <= limit))
        reference = rounds.get((endpoint, "reference"))
        if "min_reference_rps_ratio" in spec and reference is not None:
            value = median_ratio(service, reference, "rps")
            limit = spec["min_reference_rps_ratio"]
            gates.append(
                Gate(
                    "probe",
                    endpoint,
                    "service/reference rps",
                    limit,
                    value,
                    value is not None and value >= limit,
                )
            )
    return gates


def scenario_gates(config: dict[str, Any], runs: list[ScenarioRun]) -> list[Gate]:
    gates: list[Gate] = []
    for run in (r for r in runs if r.target == "service"):
        if not run.endpoints:
            gates.append(Gate(run.scenario, "-", "requests", 1, 0, False, "no requests at all"))
        for e in run.endpoints:
            limits = scenario_limits(config, run.scenario, e.name)
            ratio = e.failures / e.requests if e.requests else 1.0
            limit = limits["max_failure_ratio"]
            gates.append(Gate(run.scenario, e.name, "failure_ratio", limit, ratio, ratio <= limit))
            enough = e.requests >= limits.get("min_requests", 0)
            note = "" if enough else f"only {e.requests} requests: not gated"
            limit = limits["p99_ms"]
            gates.append(
                Gate(
                    run.scenario, e.name, "p99_ms", limit, e.p99, not enough or e.p99 <= limit, note
                )
            )
            if "p99_over_p50" in limits:
                tail = e.p99 / max(e.p50, 1.0)
                limit = limits["p99_over_p50"]
                gates.append(
                    Gate(
                        run.scenario,
                        e.name,
                        "p99_over_p50",
                        limit,
                        tail,
                        not enough or tail <= limit,
                        note,
                    )
                )
    return gates
