"""Server CPU per request, read from /proc around each load window.

A sample is one pass over /proc/<pid>/stat: for every process its parent, its session and
`utime + stime + cutime + cstime` (clock ticks). The CPU of a set of processes over a window
is the difference of the set's sums between two samples taken right before the load starts
and right after it ends, so idle time before and after never counts. Children reaped inside
the window are not lost (their time moves into the parent's `cutime`).

The sets: a target's uvicorn processes (the session the harness started it in: the
supervisor and its workers) and the private cluster's PostgreSQL processes (the postmaster
and its children: backends, walwriter, checkpointer...). The load generator is never counted.
"""

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Proc:
    ppid: int
    session: int
    ticks: int


Sample = dict[int, Proc]


def sample() -> Sample:
    procs: Sample = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:  # the process ended meanwhile
            continue
        # The command name (field 2) may hold spaces and parentheses: split after its last ")".
        fields = raw[raw.rindex(")") + 2 :].split()
        # fields[0] is field 3 (state): ppid is field 4, session 6, utime..cstime 14..17.
        procs[int(entry.name)] = Proc(
            ppid=int(fields[1]),
            session=int(fields[3]),
            ticks=int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14]),
        )
    return procs


Selector = Callable[[int, Proc], bool]


def in_session(leader: int) -> Selector:
    return lambda pid, proc: proc.session == leader


def tree_of(root: int) -> Selector:
    """The process and its direct children (PostgreSQL's processes are all the postmaster's)."""
    return lambda pid, proc: pid == root or proc.ppid == root


def seconds(before: Sample, after: Sample, select: Selector) -> float:
    def total(snapshot: Sample) -> int:
        return sum(proc.ticks for pid, proc in snapshot.items() if select(pid, proc))

    return (total(after) - total(before)) / TICK


@dataclass
class Window:
    """CPU seconds of the server and of the database over one load window."""

    wall_s: float = 0.0
    server_s: float = 0.0
    database_s: float | None = None


class Meter:
    """`meter.measure(load)`: two samples around exactly the load, nothing else."""

    def __init__(self, server_session: int, postmaster: int | None) -> None:
        self.server_session = server_session
        self.postmaster = postmaster

    def measure(self, load: Callable[[], None]) -> Window:
        before = sample()
        start = time.monotonic()
        load()
        wall = time.monotonic() - start
        after = sample()
        window = Window(wall, seconds(before, after, in_session(self.server_session)))
        if self.postmaster is not None:
            window.database_s = seconds(before, after, tree_of(self.postmaster))
        return window
