"""Per fault kind: count, writes acknowledged during it, lost, duplicated, time to first write."""

import statistics
from collections import defaultdict
from dataclasses import dataclass, field

from loadtests.chaos.checker import Violation, acknowledged, of, posts_by_key
from loadtests.chaos.history import Record
from loadtests.chaos.state import Snapshot


@dataclass
class KindFigures:
    count: int = 0
    acknowledged: int = 0
    lost: int = 0
    duplicated: int = 0
    first_write: list[float] = field(default_factory=list)
    """Seconds from each fault's start to the first 201 of a create sent after it."""


def figures(records: list[Record], db: Snapshot) -> dict[str, KindFigures]:
    stored, acked = posts_by_key(db), acknowledged(records)
    creates = [op for op in of(records, "op") if op["op"] == "create"]
    table: dict[str, KindFigures] = defaultdict(KindFigures)
    for fault in of(records, "fault"):
        row = table[fault["kind"]]
        row.count += 1
        start, end = fault["start"], fault["end"]
        during = {op["key"] for op in creates if op["status"] == 201 and start <= op["end"] <= end}
        row.acknowledged += len(during)
        row.lost += sum(1 for key in during if not acked[key] <= set(stored.get(key, [])))
        touched = {op["key"] for op in creates if op["start"] <= end and op["end"] >= start}
        row.duplicated += sum(1 for key in touched if len(stored.get(key, [])) > 1)
        after = [op["end"] for op in creates if op["status"] == 201 and op["start"] >= start]
        if after:
            row.first_write.append(min(after) - start)
    return dict(sorted(table.items()))


def render(records: list[Record], db: Snapshot, violations: list[Violation]) -> str:
    """The report a run prints: the run's numbers, the table per fault kind, every violation."""
    ops = of(records, "op")
    run = next(iter(of(records, "run")), {})
    creates = [op for op in ops if op["op"] == "create"]
    lines = [
        f"seed {run.get('seed')}, {run.get('seconds')} s asked; {len(ops)} operations,"
        f" {len(acknowledged(records))} posts acknowledged of {len({o['key'] for o in creates})}"
        f" keys tried, {sum(1 for o in ops if o['status'] == 503)} answers 503,"
        f" {len(of(records, 'frame'))} feed frames, {len(of(records, 'gap'))} gaps",
        "",
        "| fault | count | writes acknowledged during | lost | duplicated"
        " | first write after (median / max s) |",
        "|---|---|---|---|---|---|",
    ]
    for kind, row in figures(records, db).items():
        first = (
            f"{statistics.median(row.first_write):.2f} / {max(row.first_write):.2f}"
            if row.first_write
            else "-"
        )
        lines.append(
            f"| {kind} | {row.count} | {row.acknowledged} | {row.lost} | {row.duplicated}"
            f" | {first} |"
        )
    for kind, why in run.get("skipped", {}).items():
        lines.append(f"| {kind} | skipped: {why} | | | | |")
    lines += ["", f"violations: {len(violations)}"]
    by_kind: dict[str, list[Violation]] = defaultdict(list)
    for violation in violations:
        by_kind[violation.kind].append(violation)
    for kind, found in sorted(by_kind.items()):
        lines.append(f"  {kind}: {len(found)}")
        lines.extend(f"    {v.detail}" for v in found[:10])
    return "\n".join(lines)
