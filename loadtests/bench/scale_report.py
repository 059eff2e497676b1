"""`make bench-scale`'s report: the data-size table (stdout and index.html), the seeding time
per step, the growth gates, scale.png, scale.csv, seeding.csv and summary.json."""

import html
import json
import sys
from dataclasses import asdict
from pathlib import Path

from loadtests.bench.gates import Gate
from loadtests.bench.grow import Step
from loadtests.bench.report import _fmt, _write_csv
from loadtests.bench.scale_gates import Point, growth
from loadtests.bench.scale_gates import label as _label


def _index(points: list[Point]) -> tuple[list[str], list[int], dict[tuple[str, int], Point]]:
    endpoints = list(dict.fromkeys(p.endpoint for p in points))
    sizes = sorted({p.size for p in points})
    return endpoints, sizes, {(p.endpoint, p.size): p for p in points}


def rows(points: list[Point]) -> list[list[str]]:
    """Header + one row per read: p50 / p99 ms, then database CPU ms per request, per size,
    then p50 growth over the first size."""
    endpoints, sizes, at = _index(points)
    header = ["read"] + [f"{_label(s)} p50 / p99 ms" for s in sizes]
    header += [f"{_label(s)} db ms/req" for s in sizes]
    header += [f"p50 {_label(s)}/{_label(sizes[0])}" for s in sizes[1:]]
    table = [header]
    for endpoint in endpoints:
        row = [endpoint]
        for size in sizes:
            p = at.get((endpoint, size))
            errors = f" ({p.errors} errors)" if p and p.errors else ""
            row.append(f"{p.p50_ms:.1f} / {p.p99_ms:.1f}{errors}" if p else "-")
        for size in sizes:
            p = at.get((endpoint, size))
            row.append(_fmt(p.db_ms_per_request, 3) if p else "-")
        row += [_fmt(growth(points, endpoint, s, "p50_ms")) for s in sizes[1:]]
        table.append(row)
    return table


def seeding_lines(steps: list[Step]) -> list[str]:
    lines = []
    for step in steps:
        if not step.added:
            lines.append(f"{_label(step.size)}: the seed (nothing added)")
            continue
        lines.append(
            f"{_label(step.size)}: +{step.added:,} posts in {step.total_s:.1f} s (INSERT ... "
            f"SELECT {step.insert_s:.1f} s, indexes {step.index_s:.1f} s, VACUUM ANALYZE "
            f"{step.vacuum_s:.1f} s)"
        )
    return lines


def text(
    points: list[Point],
    steps: list[Step],
    gates: list[Gate],
    loads: dict[int, tuple[float, float]],
) -> str:
    table = rows(points)
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    lines = ["data size curve (wrk, service only): p50 / p99 ms, database CPU ms per request"]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in table]
    lines += ["", "seeding per step:", *seeding_lines(steps)]
    lines += [
        f"load average (1 min) at {_label(s)}: {a:.1f} -> {b:.1f}" for s, (a, b) in loads.items()
    ]
    lines.append("")
    for g in gates:
        mark = "PASS" if g.passed else "FAIL"
        lines.append(
            f"{mark} {g.endpoint:<34} {g.check:<22} {_fmt(g.value):>7} (limit {g.limit}) {g.note}"
        )
    return "\n".join(lines) + "\n"


def plot(points: list[Point], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    endpoints, sizes, at = _index(points)
    fig, axes = plt.subplots(1, 3, figsize=(18, 5.5))
    panels = (
        ("p50 ms", "p50_ms"),
        ("p99 ms", "p99_ms"),
        ("database CPU ms per request", "db_ms_per_request"),
    )
    for ax, (title, key) in zip(axes, panels, strict=True):
        for endpoint in endpoints:
            xs = [s for s in sizes if (endpoint, s) in at]
            ys = [getattr(at[(endpoint, s)], key) or 0.0 for s in xs]
            ax.plot(xs, ys, marker="o", label=endpoint)
        ax.set_xscale("log")
        ax.set_xticks(sizes, [_label(s) for s in sizes])
        ax.set_title(f"{title} by number of posts", fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _table(table: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in table[1:]
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def write(
    out: Path,
    *,
    passed: bool,
    points: list[Point],
    steps: list[Step],
    gates: list[Gate],
    loads: dict[int, tuple[float, float]],
    facts: list[tuple[str, str]],
) -> None:
    _write_csv(out / "scale.csv", [asdict(p) for p in points])
    _write_csv(out / "seeding.csv", [{**asdict(s), "total_s": s.total_s} for s in steps])
    _write_csv(out / "gates.csv", [asdict(g) for g in gates])
    summary = {
        "passed": passed,
        "failed_gates": [g.label for g in gates if not g.passed],
        "points": [asdict(p) for p in points],
        "seeding": [{**asdict(s), "total_s": s.total_s} for s in steps],
        "load_average": {str(k): v for k, v in loads.items()},
        "gates": [asdict(g) for g in gates],
        "facts": dict(facts),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    if points:
        plot(points, out / "scale.png")
    gate_rows = [["result", "read", "check", "value", "limit", "note"]] + [
        ["PASS" if g.passed else "FAIL", g.endpoint, g.check, _fmt(g.value), str(g.limit), g.note]
        for g in gates
    ]
    banner = (
        "PASS: every read within its growth limit"
        if passed
        else "FAIL: " + ", ".join(g.label for g in gates if not g.passed)
    )
    seeding = "".join(f"<li>{html.escape(x)}</li>" for x in seeding_lines(steps))
    loads_text = [f"{_label(s)}: {a:.1f} -> {b:.1f}" for s, (a, b) in loads.items()]
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Inkwell bench: data size curve</title>
<style>body {{ font-family: system-ui, sans-serif; margin: 1.5em; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }}
td, th {{ border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
.banner {{ padding: 0.8em 1em; font-weight: bold; color: white;
  background: {"#2e7d32" if passed else "#c62828"}; }}</style></head><body>
<div class="banner">{html.escape(banner)}</div>
<h2>Data size curve</h2>{_table(rows(points))}
<p><img src="scale.png" alt="p50, p99 and database CPU per request by data size" width="100%"></p>
<h2>Seeding per step</h2><ul>{seeding}</ul>
<h2>Gates</h2>{_table(gate_rows)}
<h2>Run</h2>{_table([["fact", "value"], *[list(f) for f in facts]])}
<p>Load average (1 min) before -> after each size's probes: {html.escape("; ".join(loads_text))}.
The machine is shared: latencies move with other work on it.</p>
<p>Files: <a href="summary.json">summary.json</a>, <a href="scale.csv">scale.csv</a>,
<a href="seeding.csv">seeding.csv</a>, <a href="gates.csv">gates.csv</a>; per size a folder
with the fixture, the wrk scripts and output, and the service log.</p>
</body></html>
"""
    (out / "index.html").write_text(page, encoding="utf-8")
    sys.stdout.write(text(points, steps, gates, loads))
