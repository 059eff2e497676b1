"""The probes of a run: parity first, then interleaved rounds of every target.

A probe may run the service with settings of its own (`service_env` in its spec, e.g. the job
worker off): a second service is started for it, and the first one is stopped (SIGSTOP) while
it runs. During a write probe the service not measured at that moment is stopped too, so its
job worker never runs on another target's time (the other writers' outbox events wait for
the service's next turn, which drains them before its measured window opens)."""

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from loadtests.bench import parity, probes
from loadtests.bench.config import Knobs, say
from loadtests.bench.servers import Server, paused, server
from loadtests.bench.wrk import find_wrk


@contextmanager
def _service_for(
    spec: dict[str, Any],
    running: dict[str, Server],
    env: dict[str, str],
    knobs: Knobs,
    out: Path,
    quiet: Callable[[], None],
) -> Iterator[Server]:
    own = spec.get("service_env")
    if not own:
        yield running["service"]
        return
    log = f"service-{probes.slug(spec['path'])}"
    quiet()
    with (
        paused(running["service"]),
        server("service", knobs.workers, {**env, **own}, out, log=log) as started,
    ):
        yield started


def run_probes(
    config: dict[str, Any],
    knobs: Knobs,
    running: dict[str, Server],
    env: dict[str, str],
    *,
    postmaster: int | None,
    settle: Callable[[], float],
    quiet: Callable[[], None],
    fixture: dict[str, Any],
    out: Path,
) -> tuple[str, list[probes.ProbeResult], dict[tuple[str, str], str | None]]:
    """(generator, every round's result, parity per (endpoint, target))."""
    chosen = config.get("probes", {})
    if knobs.probes is not None:
        chosen = {
            k: v for k, v in chosen.items() if k in knobs.probes or probes.slug(k) in knobs.probes
        }
    wrk, generator = find_wrk(knobs.generator) if chosen else (None, "no probes")
    results: list[probes.ProbeResult] = []
    same: dict[tuple[str, str], str | None] = {}
    for endpoint, spec in chosen.items():
        sample = probes.expand(spec["path"], fixture, 3, random.Random(endpoint))
        headers = probes.probe_headers(spec, fixture)
        write = probes.write_of(spec, fixture)
        # A probe may name the targets that serve it (the idiomatic app has no feed).
        targets = [t for t in knobs.targets if t == "service" or t in spec.get("targets", [t])]
        jobs = {**env, **spec.get("service_env", {})}.get("JOBS_EMBEDDED", "true") != "false"
        with _service_for(spec, running, env, knobs, out, quiet) as service:
            serving = {**running, "service": service}
            for target in targets[1:]:
                other = serving[target].url
                same[(endpoint, target)] = (
                    parity.compare(service.url, other, sample, headers)
                    if write is None
                    else parity.compare_write(
                        service.url, other, spec["path"], write.method, write.body, write.tokens[0]
                    )
                )
                if same[(endpoint, target)]:
                    say(f"parity {endpoint} {target}: {same[(endpoint, target)]}")
            for round_no in range(knobs.probe_rounds):
                for target in targets:  # back to back: the same host noise for all of them
                    alone = write is not None and target != "service"
                    if alone:
                        quiet()  # a paused service must hold no lock (the outbox's order lock)
                    with paused(service) if alone else nullcontext():
                        results.append(
                            probes.run_probe(
                                endpoint,
                                spec["path"],
                                serving[target],
                                wrk=wrk,
                                knobs=knobs,
                                fixture=fixture,
                                postmaster=postmaster,
                                out=out,
                                round_no=round_no,
                                headers=headers,
                                connections=spec.get("connections"),
                                write=write,
                                # A write's window lasts until the service's job worker has run
                                # what the load wrote (docs/performance.md).
                                settle=settle if write and jobs and target == "service" else None,
                            )
                        )
    return generator, results, same
