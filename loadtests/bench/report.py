"""What a person reads: index.html (banner, side-by-side table, gates, plot, links), the same
table on stdout, summary.json, probes.csv and gates.csv next to Locust's own CSVs and pages."""

import csv
import html
import json
import sys
from dataclasses import asdict, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loadtests.bench.cluster import seed_params
from loadtests.bench.config import TARGETS, Knobs
from loadtests.bench.gates import Gate
from loadtests.bench.locust_runs import EndpointResult, ScenarioRun
from loadtests.bench.probes import ProbeResult, by_target, median_ratio, pooled

COLORS = {"service": "tab:blue", "reference": "tab:gray", "idiomatic": "tab:orange"}


def _fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


class Tables:
    """The run's numbers indexed for the side-by-side views."""

    def __init__(self, probe_results: list[ProbeResult], runs: list[ScenarioRun]) -> None:
        """`probe_results`: every round; shown pooled, ratios as the gates take them."""
        self.rounds = by_target(probe_results)
        self.probe = {key: pooled(rounds) for key, rounds in self.rounds.items()}
        self.endpoints = list(dict.fromkeys(p.endpoint for p in probe_results))
        self.targets = [t for t in TARGETS if any(p.target == t for p in probe_results)]
        # Locust latencies per (endpoint, target): the first scenario that has the endpoint.
        self.locust: dict[tuple[str, str], tuple[str, EndpointResult]] = {}
        for run in runs:
            for e in run.endpoints:
                self.locust.setdefault((e.name, run.target), (run.scenario, e))

    def ratios(self, endpoint: str) -> dict[str, float | None]:
        """Medians over rounds of the rounds' ratios, as `probe_gates` computes them."""

        def median(above: str, below: str, key: str) -> float | None:
            a, b = self.rounds.get((endpoint, above)), self.rounds.get((endpoint, below))
            return median_ratio(a, b, key) if a and b else None

        return {
            "reference/service CPU": median("reference", "service", "cpu_ms_per_request"),
            "idiomatic/service CPU": median("idiomatic", "service", "cpu_ms_per_request"),
            "service/reference rps": median("service", "reference", "rps"),
        }


def _db_ms(p: ProbeResult) -> float | None:
    if p.cpu_ms_per_request is None or p.app_ms_per_request is None or p.database_cpu_s is None:
        return None
    return p.cpu_ms_per_request - p.app_ms_per_request


def text_table(tables: Tables, runs: list[ScenarioRun], gates: list[Gate]) -> str:
    lines = [
        "probes: rps | server CPU ms per request (uvicorn + PostgreSQL) | p50/p99 ms",
        f"{'endpoint':<28} {'target':<10} {'rps':>8} {'cpu ms/req':>10} {'(app':>7} {'+ db)':>7} "
        f"{'app cores':>9} {'p50':>7} {'p99':>7} {'errors':>6}",
    ]
    for endpoint in tables.endpoints:
        for target in tables.targets:
            p = tables.probe.get((endpoint, target))
            if p:
                lines.append(
                    f"{endpoint:<28} {target:<10} {p.rps:>8.0f} "
                    f"{_fmt(p.cpu_ms_per_request, 3):>10} {_fmt(p.app_ms_per_request, 3):>7} "
                    f"{_fmt(_db_ms(p), 3):>7} {p.server_cores:>9.2f} "
                    f"{p.p50_ms:>7.1f} {p.p99_ms:>7.1f} {p.errors:>6}"
                )
        ratios = "  ".join(f"{k} {_fmt(v)}" for k, v in tables.ratios(endpoint).items())
        lines.append(f"{'':<28} {ratios}")
    lines += [
        "",
        "scenarios (Locust): requests, failures, rps, p50/p95/p99 ms",
        f"{'scenario':<11} {'target':<10} {'endpoint':<28} {'reqs':>7} {'fail':>5} "
        f"{'rps':>8} {'p50':>6} {'p95':>6} {'p99':>6}",
    ]
    for r in runs:
        for e in r.endpoints:
            lines.append(
                f"{r.scenario:<11} {r.target:<10} {e.name:<28} {e.requests:>7} {e.failures:>5} "
                f"{e.rps:>8.1f} {e.p50:>6.0f} {e.p95:>6.0f} {e.p99:>6.0f}"
            )
    lines.append("")
    for g in gates:
        mark = "PASS" if g.passed else "FAIL"
        value = "" if g.value is None and g.check.endswith("same JSON") else _fmt(g.value, 3)
        lines.append(
            f"{mark} {g.scope:<10} {g.endpoint:<28} {g.check:<32} {value:>9} "
            f"(limit {g.limit}) {g.note}"
        )
    return "\n".join(lines) + "\n"


def _short(endpoint: str) -> str:
    return endpoint.removeprefix("GET ").replace("?", "\n?").replace(" (", "\n(")


def plot(tables: Tables, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels: list[tuple[str, Any]] = [
        ("server CPU ms per request (lower is better)", lambda p, e, t: p.cpu_ms_per_request),
        ("requests/s, wrk probe (higher is better)", lambda p, e, t: p.rps),
        ("p99 ms, Locust at 64 users (lower is better)", None),
    ]
    endpoints = tables.endpoints
    fig, axes = plt.subplots(1, 3, figsize=(20, 6.5))
    width = 0.8 / max(len(tables.targets), 1)
    for ax, (title, value_of) in zip(axes, panels, strict=True):
        for i, target in enumerate(tables.targets):
            values: list[float] = []
            for endpoint in endpoints:
                if value_of is None:
                    found = tables.locust.get((endpoint, target))
                    values.append(found[1].p99 if found else 0.0)
                else:
                    probe = tables.probe.get((endpoint, target))
                    values.append((value_of(probe, endpoint, target) or 0.0) if probe else 0.0)
            positions = [
                x + (i - (len(tables.targets) - 1) / 2) * width for x in range(len(endpoints))
            ]
            bars = ax.bar(positions, values, width, color=COLORS[target], label=target)
            digits = "%.2f" if value_of is not None and "CPU" in title else "%.0f"
            ax.bar_label(bars, fmt=digits, fontsize=7, rotation=90, padding=2)
        ax.set_xticks(range(len(endpoints)), [_short(e) for e in endpoints], fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.margins(y=0.2)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(
        f"Inkwell bench {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: service vs reference (raw asyncpg) "
        "vs idiomatic (the guide's SQLModel pattern), same run, back to back"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _cell(text: str, cls: str = "") -> str:
    return f'<td class="{cls}">{html.escape(text)}</td>' if cls else f"<td>{html.escape(text)}</td>"


def page(
    tables: Tables,
    runs: list[ScenarioRun],
    gates: list[Gate],
    *,
    passed: bool,
    facts: list[tuple[str, str]],
    notes: list[str],
) -> str:
    failed = [g for g in gates if not g.passed]
    banner = (
        '<div class="banner pass">PASS: every gate passed</div>'
        if passed
        else '<div class="banner fail">FAIL: '
        + (f"{len(failed)} gate(s) failed" if failed else "no gate was evaluated")
        + "<ul>"
        + "".join(
            f"<li>{html.escape(g.label)}: {html.escape(_fmt(g.value, 3))} "
            f"(limit {g.limit}) {html.escape(g.note)}</li>"
            for g in failed
        )
        + "</ul></div>"
    )
    head = "".join(f'<th colspan="5" class="{t}">{t}</th>' for t in tables.targets)
    sub = "<th>rps</th><th>CPU ms/req (app + db)</th><th>p50 / p99 ms (probe)</th>"
    sub += "<th>p50 / p99 ms (Locust)</th><th>errors</th>"
    rows = []
    for endpoint in tables.endpoints:
        cells = [_cell(endpoint)]
        for target in tables.targets:
            p = tables.probe.get((endpoint, target))
            found = tables.locust.get((endpoint, target))
            locust = f"{found[1].p50:.0f} / {found[1].p99:.0f} ({found[0]})" if found else "-"
            if p is None:
                cells += [_cell("-")] * 4 + [_cell(locust)]
                continue
            cells += [
                _cell(f"{p.rps:.0f}"),
                _cell(
                    f"{_fmt(p.cpu_ms_per_request, 3)} "
                    f"({_fmt(p.app_ms_per_request, 3)} + {_fmt(_db_ms(p), 3)})"
                ),
                _cell(f"{p.p50_ms:.1f} / {p.p99_ms:.1f}"),
                _cell(locust),
                _cell(str(p.errors), "bad" if p.errors else ""),
            ]
        cells += [_cell(_fmt(v)) for v in tables.ratios(endpoint).values()]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    gate_rows = "".join(
        "<tr>"
        + _cell("PASS" if g.passed else "FAIL", "ok" if g.passed else "bad")
        + _cell(g.scope)
        + _cell(g.endpoint)
        + _cell(g.check)
        + _cell("" if g.value is None and g.check.endswith("same JSON") else _fmt(g.value, 3))
        + _cell(str(g.limit))
        + _cell(g.note)
        + "</tr>"
        for g in gates
    )
    scenario_rows = "".join(
        "<tr>"
        + _cell(r.scenario)
        + _cell(r.target)
        + _cell(e.name)
        + _cell(str(e.requests))
        + _cell(str(e.failures), "bad" if e.failures else "")
        + _cell(f"{e.rps:.1f}")
        + _cell(f"{e.p50:.0f}")
        + _cell(f"{e.p99:.0f}")
        + _cell(f"{e.p99 / max(e.p50, 1.0):.2f}")
        + f'<td><a href="{html.escape(r.report)}">Locust page</a></td>'
        + "</tr>"
        for r in runs
        for e in r.endpoints
    )
    fact_rows = "".join(f"<tr><th>{html.escape(k)}</th>{_cell(v)}</tr>" for k, v in facts)
    note_items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Inkwell bench</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }}
td, th {{ border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
.banner {{ padding: 0.8em 1em; font-size: 1.2em; font-weight: bold; color: white; }}
.pass {{ background: #2e7d32; }} .fail {{ background: #c62828; }}
.banner ul {{ font-size: 0.8em; font-weight: normal; }}
.ok {{ color: #2e7d32; font-weight: bold; }} .bad {{ color: #c62828; font-weight: bold; }}
th.service {{ background: #d6e6f5; }} th.reference {{ background: #e6e6e6; }}
th.idiomatic {{ background: #fde3c8; }}
</style></head><body>
{banner}
<h2>Per endpoint, back to back</h2>
<p>Probe: one endpoint at a time, each target after the other, a warm-up then a measured
window; CPU per request = CPU seconds of the target's processes (and the database's) between
two /proc samples taken right around the window, over the requests completed in it.
The gate is the CPU ratio (reference or idiomatic CPU per request over the service's):
it does not move with the load generator the way an rps ratio does.</p>
<table><tr><th rowspan="2">endpoint</th>{head}<th colspan="3">ratios</th></tr>
<tr>{sub * len(tables.targets)}<th>reference/service CPU (gate)</th>
<th>idiomatic/service CPU (gate)</th><th>service/reference rps</th></tr>
{"".join(rows)}</table>
<p><img src="bench.png" alt="CPU per request, rps and p99 per endpoint and target" width="100%"></p>
<h2>Gates</h2>
<table><tr><th>result</th><th>scope</th><th>endpoint</th><th>check</th><th>value</th>
<th>limit</th><th>note</th></tr>{gate_rows}</table>
<h2>Scenarios (Locust)</h2>
<table><tr><th>scenario</th><th>target</th><th>endpoint</th><th>requests</th><th>failures</th>
<th>rps</th><th>p50 ms</th><th>p99 ms</th><th>p99/p50</th><th>report</th></tr>
{scenario_rows}</table>
<h2>Run</h2><table>{fact_rows}</table>
<ul>{note_items}</ul>
<p>Files: <a href="summary.json">summary.json</a>, <a href="probes.csv">probes.csv</a>,
<a href="gates.csv">gates.csv</a>, Locust's <code>*_stats.csv</code> per scenario and target,
server logs (<code>service.log</code>, <code>reference.log</code>, <code>idiomatic.log</code>),
the probes' paths and wrk scripts in <a href="probes/">probes/</a>.</p>
</body></html>
"""


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    if not rows:
        path.write_text("", encoding="utf-8")
        return
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write(
    out: Path,
    *,
    passed: bool,
    gates: list[Gate],
    probe_results: list[ProbeResult],
    runs: list[ScenarioRun],
    knobs: Knobs,
    generator: str,
    counted: str,
    notes: list[str],
    elapsed: float,
) -> None:
    tables = Tables(probe_results, runs)
    facts = [
        ("result", "PASS" if passed else "FAIL"),
        ("started (UTC)", out.name),
        ("elapsed", f"{elapsed:.0f} s"),
        ("probe generator", generator),
        (
            "probe",
            f"{knobs.probe_warmup} s warm-up + {knobs.probe_duration} s measured, "
            f"{knobs.probe_connections} connections, {knobs.probe_rounds} interleaved rounds "
            "(ratios: the median of the rounds')",
        ),
        ("CPU counted", counted),
        ("scenarios", f"{knobs.duration} s each, users {knobs.users or 'per thresholds.toml'}"),
        ("uvicorn", f"{knobs.workers} workers, uvloop, httptools; DB pool {knobs.pool_size}"),
    ]
    knob_values = {f.name: str(getattr(knobs, f.name)) for f in fields(knobs)}
    summary = {
        "passed": passed,
        "failed_gates": [g.label for g in gates if not g.passed],
        "started_at": out.name,
        "elapsed_s": round(elapsed, 1),
        "generator": generator,
        "cpu_counted": counted,
        "knobs": knob_values,
        "seed": asdict(seed_params()),
        "probes": [asdict(p) for p in probe_results],
        "ratios": {e: tables.ratios(e) for e in tables.endpoints},
        "runs": [asdict(r) for r in runs],
        "gates": [asdict(g) for g in gates],
        "notes": notes,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    _write_csv(out / "probes.csv", [asdict(p) for p in probe_results])
    _write_csv(out / "gates.csv", [asdict(g) for g in gates])
    if probe_results or runs:
        plot(tables, out / "bench.png")
    (out / "index.html").write_text(
        page(tables, runs, gates, passed=passed, facts=facts, notes=notes), encoding="utf-8"
    )
    sys.stdout.write(text_table(tables, runs, gates))
