"""One chaos run, from a fresh database to the checker; the cluster is always left healthy."""

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from loadtests.chaos import behaviours, processes, state
from loadtests.chaos.checker import Violation, check
from loadtests.chaos.clients import TIMEOUT, Client, Context, create_post, register
from loadtests.chaos.cluster import Cluster, cluster_from_env, ha_up
from loadtests.chaos.faults import Injector
from loadtests.chaos.history import History, now, read_history
from loadtests.chaos.report import render
from loadtests.chaos.schedule import NO_REDIS, SKIPPED, FaultKind, plan


@dataclass(frozen=True)
class Config:
    seconds: float
    seed: int
    folder: Path
    writers: int = 3
    likers: int = 2
    followers: int = 2
    editors: int = 1
    readers: int = 1
    feeds: int = 2
    warmup: float = 3.0
    keep_database: bool = False
    """Leave the run's database on the cluster (for `python -m loadtests.chaos.check`)."""


@dataclass(frozen=True)
class Outcome:
    violations: list[Violation]
    report: str
    history: Path
    faults: int
    database_url: str


async def run(config: Config, cluster: Cluster | None = None) -> Outcome:
    """The whole run; raises only if the setup itself fails."""
    config.folder.mkdir(parents=True, exist_ok=True)
    cluster = cluster or cluster_from_env() or await ha_up()
    if not await cluster.healthy():
        await cluster.restore()
    await cluster.wait_healthy()
    url = await cluster.create_database()
    procs: list[processes.Proc] = []
    try:
        await processes.migrate(url)
        redis = processes.redis(config.folder)
        if redis is not None:
            procs.append(redis)
            await redis.start()
        env = processes.environment(url, cluster.replica_urls(url), redis.port if redis else None)
        apps = [processes.app(i, env, config.folder) for i in range(2)]
        worker = processes.worker(env, config.folder)
        procs += [*apps, worker]
        await asyncio.gather(*(p.start() for p in (*apps, worker)))
        path = config.folder / "history.jsonl"
        path.unlink(missing_ok=True)
        history = History(path)
        try:
            faults = await _drive(config, cluster, (apps, worker, redis), history, url)
        finally:
            history.close()
        for proc in procs:
            await proc.stop()
        await state.wait_drained(url, within=30)
        records = read_history(path)
        snapshot = await state.load(url)
        violations = check(records, snapshot)
        report = render(records, snapshot, violations)
        return Outcome(violations, report, path, faults, url)
    finally:
        for proc in procs:
            with contextlib.suppress(Exception):
                await proc.stop()
        if not await cluster.healthy():
            await cluster.restore()
        await cluster.wait_healthy()
        if not config.keep_database:
            with contextlib.suppress(Exception):
                await cluster.drop_database(url)


async def _drive(
    config: Config,
    cluster: Cluster,
    procs: tuple[list[processes.Proc], processes.Proc, processes.Proc | None],
    history: History,
    url: str,
) -> int:
    """Clients on, the faults in order until `seconds` are up, clients off, then the drain."""
    apps, worker, redis = procs
    rng = random.Random(config.seed)
    ctx = Context([a.url for a in apps], history, rng)
    skipped = {str(k): why for k, why in SKIPPED.items()}
    if redis is None:
        skipped[FaultKind.REDIS_DOWN] = NO_REDIS
    history.append("run", seed=config.seed, seconds=config.seconds, skipped=skipped, at=now())
    https: list[httpx.AsyncClient] = []

    async def user(role: str, number: int) -> Client:
        http = httpx.AsyncClient(timeout=TIMEOUT)
        https.append(http)
        client = await register(ctx, f"{role}{number}_{rng.randrange(10**9)}", http, number % 2)
        history.append("client", name=client.name, role=role, user_id=client.user_id)
        return client

    try:
        writers = [await user("writer", i) for i in range(config.writers)]
        followers = [await user("follower", i) for i in range(config.followers)]
        for follower in followers:
            for author in writers:
                status = None
                while status != 204:
                    status, _, _ = await ctx.call(
                        follower,
                        "follow",
                        "PUT",
                        f"/api/v1/users/{author.user_id}/follow",
                        headers=follower.auth,
                        followee=author.user_id,
                    )
        editors = [await user("editor", i) for i in range(config.editors)]
        edited = [await create_post(ctx, e) for e in editors]
        likers = [await user("liker", i) for i in range(config.likers)]
        readers = [await user("reader", i) for i in range(config.readers)]
        feeds = [await user("feed", i) for i in range(config.feeds)]
        feed_tasks = [asyncio.create_task(behaviours.feed(ctx, f)) for f in feeds]
        authors = [w.user_id for w in writers]
        tasks = [
            *(behaviours.writer(ctx, w) for w in writers),
            *(behaviours.follower(ctx, f, authors) for f in followers),
            *(behaviours.editor(ctx, e, p) for e, p in zip(editors, edited, strict=True) if p),
            *(behaviours.liker(ctx, c) for c in likers),
            *(behaviours.reader(ctx, c) for c in readers),
        ]
        running = [asyncio.create_task(t) for t in tasks]
        deadline = time.monotonic() + config.seconds
        injector = Injector(cluster, apps, worker, redis, history)
        await asyncio.sleep(config.warmup)
        count = 0
        steps = plan(config.seed, 10_000, [FaultKind(k) for k in skipped])
        for number, step in enumerate(steps):
            if time.monotonic() + step.pause >= deadline:
                break
            await asyncio.sleep(step.pause)
            await injector.run(number, step)
            count += 1
        await asyncio.sleep(max(0.0, deadline - time.monotonic()))
        ctx.stopping.set()
        await asyncio.gather(*running)
        await state.wait_drained(url)
        newest = max(
            (ids[-1] for ids in (await state.load(url)).published_events.values()), default=0
        )
        stop = time.monotonic() + 60
        while time.monotonic() < stop:
            if min(ctx.feed_last.get(f.name, 0) for f in feeds) >= newest:
                break
            await asyncio.sleep(0.2)
        ctx.feed_stop.set()
        await asyncio.gather(*feed_tasks)
        history.append("end", at=now())
        return count
    finally:
        ctx.stopping.set()
        ctx.feed_stop.set()
        for http in https:
            await http.aclose()
