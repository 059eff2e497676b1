"""Deterministic benchmark data set, loaded with COPY: `python -m loadtests.seed`.

Every table is one small function fed by a seeded `random.Random`, so two runs with the
same parameters produce the same rows. Tables that do not exist yet (the schema grows with
the domain work) are skipped. A run is skipped entirely when the database already holds a
data set made with the same parameters and the same schema revision.

Every seeded user's password is `SEED_PASSWORD` (hashed once: argon2 per row would take minutes).
"""

import argparse
import asyncio
import json
import os
import random
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

SEED_PASSWORD = "benchmark-password"
STATE_SCHEMA = "inkwell_bench"
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
SPAN_SECONDS = 365 * 24 * 3600
_VOCABULARY = (
    "async fast query index page cursor replica commit python model schema latency "
    "throughput session engine pool worker request response stream token cache table "
    "column vector search author comment follow like tag profile draft publish review "
    "design test deploy metric trace error retry budget scale shard lock version event"
)
_TAG_NAMES = (
    "python fastapi sqlalchemy postgres asyncio performance testing design devops security "
    "databases web api tutorial release"
)
WORDS = tuple(_VOCABULARY.split())
TAGS = tuple(_TAG_NAMES.split())
LANGS = ("en", "de", "fr", "es", "ja")


@dataclass(frozen=True)
class SeedParams:
    users: int = 10_000
    posts: int = 100_000
    comments: int = 300_000
    likes: int = 200_000
    follows: int = 100_000
    feed_follows: tuple[int, ...] = (1_000, 10_000)
    """The home-feed probes' readers: the last users, each following this many authors."""
    seed: int = 20261125


@dataclass
class Generated:
    """Ids handed from one table's seeder to the next (foreign keys, counters)."""

    post_authors: list[int] = field(default_factory=list)
    post_created: list[datetime] = field(default_factory=list)
    like_counts: list[int] = field(default_factory=list)
    likes: list[tuple[int, int]] = field(default_factory=list)
    post_slugs: bool = False  # the posts table has the domain's `slug` column


def _dsn(url: str) -> str:
    """asyncpg wants plain `postgresql://`; accept the SQLAlchemy form too."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _sentence(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(low, high)))


def _skewed(rng: random.Random, n: int) -> int:
    """An id in 1..n where low ids are much more frequent (prolific authors, hot posts)."""
    return int(n * rng.random() ** 2) + 1


def _plan_likes(params: SeedParams, rng: random.Random, gen: Generated) -> None:
    """Likes are planned even without a likes table so that `like_count` is always exact."""
    pairs: set[tuple[int, int]] = set()
    target = min(params.likes, params.users * params.posts)
    while len(pairs) < target:
        pairs.add((rng.randint(1, params.users), _skewed(rng, params.posts)))
    gen.likes = sorted(pairs)
    counts = [0] * (params.posts + 1)
    for _, post_id in gen.likes:
        counts[post_id] += 1
    gen.like_counts = counts


async def _copy(
    conn: asyncpg.Connection, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]
) -> None:
    await conn.copy_records_to_table(table, records=rows, columns=list(columns))


async def _reset_sequence(conn: asyncpg.Connection, table: str) -> None:
    sequence = await conn.fetchval("SELECT pg_get_serial_sequence($1, 'id')", table)
    if sequence is not None:
        await conn.execute(
            f"SELECT setval('{sequence}', (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
        )


async def seed_users(
    conn: asyncpg.Connection, params: SeedParams, rng: random.Random, gen: Generated
) -> int:
    from service.users.security import hash_password

    password_hash = await hash_password(SEED_PASSWORD)
    rows = []
    for i in range(1, params.users + 1):
        created = EPOCH - timedelta(seconds=SPAN_SECONDS + rng.randrange(SPAN_SECONDS))
        name = f"user{i:06d}"
        display = f"{rng.choice(WORDS).title()} {rng.choice(WORDS).title()}"
        rows.append((i, name, f"{name}@bench.example", password_hash, display, 0, created, created))
    columns = (
        "id",
        "username",
        "email",
        "password_hash",
        "display_name",
        "token_version",
        "created_at",
        "updated_at",
    )
    await _copy(conn, "users", columns, rows)
    await _reset_sequence(conn, "users")
    return len(rows)


async def seed_posts(
    conn: asyncpg.Connection, params: SeedParams, rng: random.Random, gen: Generated
) -> int:
    _plan_likes(params, random.Random(params.seed + 1), gen)
    gen.post_authors = [0]
    gen.post_created = [EPOCH]
    rows = []
    for i in range(1, params.posts + 1):
        author = _skewed(rng, params.users)
        created = EPOCH - timedelta(seconds=rng.randrange(SPAN_SECONDS))
        status = "draft" if rng.random() < 0.1 else "published"
        meta = json.dumps({"lang": rng.choice(LANGS), "reading_minutes": rng.randint(1, 20)})
        title = _sentence(rng, 3, 9).capitalize()
        body = _sentence(rng, 40, 120)
        gen.post_authors.append(author)
        gen.post_created.append(created)
        rows.append(
            (i, author, title, body, status, gen.like_counts[i], 1, meta, created, created, None)
            + ((f"post-{i}",) if gen.post_slugs else ())
        )
    columns = (
        "id",
        "author_id",
        "title",
        "body",
        "status",
        "like_count",
        "version",
        "metadata",
        "created_at",
        "updated_at",
        "deleted_at",
        *(("slug",) if gen.post_slugs else ()),
    )
    await _copy(conn, "posts", columns, rows)
    await _reset_sequence(conn, "posts")
    return len(rows)


async def seed_tags(
    conn: asyncpg.Connection, params: SeedParams, rng: random.Random, gen: Generated
) -> int:
    await _copy(conn, "tags", ("id", "name"), enumerate(TAGS, start=1))
    await _reset_sequence(conn, "tags")
    return len(TAGS)


async def seed_post_tags(
    conn: asyncpg.Connection, params: SeedParams, rng: random.Random, gen: Generated
) -> int:
    rows = [
        (post_id, tag_id)
        for post_id in range(1, params.posts + 1)
        for tag_id in rng.sample(range(1, len(TAGS) + 1), rng.randint(0, 3))
    ]
    await _copy(conn, "post_tags", ("post_id", "tag_id"), rows)
    return len(rows)


async def seed_profiles(
    conn: asyncpg.Connection, params: SeedParams, rng: random.Random, gen: Generated
) -> int:
    rows = [
        (
            i,
            _sentence(rng, 5, 20),
            rng.choice(("Berlin", "Lyon", "Osaka", "")),
            "",
            "{}",
            EPOCH,
            EPOCH,
        )
        for i in range(1, params.users + 1)
        if rng.random() < 0.5
    ]
    columns = ("user_id", "bio", "location", "website", "links", "created_at", "updated_at")
    await _copy(conn, "profiles", columns, rows)
    return len(rows)


async def seed_comments(
    conn: asyncpg.Connection, params: SeedParams, rng: random.Random, gen: Generated
) -> int:
    """Threaded: about one comment in four replies to an earlier comment on the same post."""
    rows: list[tuple[Any, ...]] = []
    last_on_post: dict[int, uuid.UUID] = {}
    for _ in range(params.comments):
        post_id = _skewed(rng, params.posts)
        comment_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        parent = last_on_post.get(post_id) if rng.random() < 0.25 else None
        created = gen.post_created[post_id] + timedelta(seconds=rng.randrange(1, 86_400))
        rows.append(
            (
                comment_id,
                post_id,
                rng.randint(1, params.users),
                parent,
                _sentence(rng, 5, 30),
                created,
                None,
            )
        )
        last_on_post[post_id] = comment_id
    columns = ("id", "post_id", "author_id", "parent_id", "body", "created_at", "deleted_at")
    await _copy(conn, "comments", columns, rows)
    return len(rows)


async def seed_post_likes(
    conn: asyncpg.Connection, params: SeedParams, rng: random.Random, gen: Generated
) -> int:
    """Exactly the likes `_plan_likes` counted into `posts.like_count`."""
    rows = [(post_id, user_id, gen.post_created[post_id]) for user_id, post_id in gen.likes]
    await _copy(conn, "post_likes", ("post_id", "user_id", "created_at"), rows)
    return len(rows)


async def seed_follows(
    conn: asyncpg.Connection, params: SeedParams, rng: random.Random, gen: Generated
) -> int:
    pairs: set[tuple[int, int]] = set()
    target = min(params.follows, params.users * (params.users - 1))
    while len(pairs) < target:
        follower, followee = rng.randint(1, params.users), _skewed(rng, params.users)
        if follower != followee:
            pairs.add((follower, followee))
    for reader, count in feed_readers(params).items():
        pairs |= {(reader, b) for b in _followees(rng, params.users, reader, count)}
    rows = [(a, b, EPOCH) for a, b in sorted(pairs)]
    await _copy(conn, "follows", ("follower_id", "followee_id", "followed_at"), rows)
    return len(rows)


def feed_readers(params: SeedParams) -> dict[int, int]:
    """user id -> how many authors it follows: the feed probes' callers (the last users)."""
    return {params.users - i: count for i, count in enumerate(params.feed_follows)}


def _followees(rng: random.Random, users: int, reader: int, count: int) -> list[int]:
    """`count` authors for `reader` (every other user when there are not that many)."""
    others = [u for u in range(1, users + 1) if u != reader]
    return others if count >= len(others) else rng.sample(others, count)


Seeder = Callable[[asyncpg.Connection, SeedParams, random.Random, Generated], Awaitable[int]]

# In dependency order; a table missing from the schema is skipped (with a note).
SEEDERS: tuple[tuple[str, Seeder], ...] = (
    ("users", seed_users),
    ("profiles", seed_profiles),
    ("follows", seed_follows),
    ("posts", seed_posts),
    ("tags", seed_tags),
    ("post_tags", seed_post_tags),
    ("comments", seed_comments),
    ("post_likes", seed_post_likes),
)


async def _existing_tables(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    return {r["tablename"] for r in rows}


async def _has_column(conn: asyncpg.Connection, table: str, column: str) -> bool:
    found = await conn.fetchval(
        "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()"
        " AND table_name = $1 AND column_name = $2",
        table,
        column,
    )
    return found is not None


async def _fingerprint(conn: asyncpg.Connection, params: SeedParams) -> str:
    revision = await conn.fetchval("SELECT string_agg(version_num, ',') FROM alembic_version")
    return json.dumps({"params": asdict(params), "revision": revision}, sort_keys=True)


async def _already_seeded(conn: asyncpg.Connection, fingerprint: str) -> bool:
    exists = await conn.fetchval("SELECT to_regclass($1)", f"{STATE_SCHEMA}.seed_state")
    if exists is None:
        return False
    stored = await conn.fetchval(f"SELECT fingerprint FROM {STATE_SCHEMA}.seed_state")
    return bool(stored == fingerprint)


async def seed(url: str, params: SeedParams, *, force: bool = False) -> bool:
    """Load the data set; False when an identical one is already there."""
    conn = await asyncpg.connect(_dsn(url))
    try:
        fingerprint = await _fingerprint(conn, params)
        if not force and await _already_seeded(conn, fingerprint):
            _say(f"already seeded with {fingerprint}; skipping (use --force to reload)")
            return False
        tables = await _existing_tables(conn)
        started = time.perf_counter()
        gen = Generated(post_slugs=await _has_column(conn, "posts", "slug"))
        async with conn.transaction():
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {STATE_SCHEMA}")
            await conn.execute(f"DROP TABLE IF EXISTS {STATE_SCHEMA}.seed_state")
            present = [name for name, _ in SEEDERS if name in tables]
            if present:
                await conn.execute(f"TRUNCATE {', '.join(present)} RESTART IDENTITY CASCADE")
            for name, seeder in SEEDERS:
                if name not in tables:
                    _say(f"{name}: table absent, skipped")
                    continue
                t0 = time.perf_counter()
                rng = random.Random(f"{params.seed}:{name}")
                count = await seeder(conn, params, rng, gen)
                _say(f"{name}: {count} rows in {time.perf_counter() - t0:.1f}s")
            await conn.execute(f"CREATE TABLE {STATE_SCHEMA}.seed_state (fingerprint text)")
            await conn.execute(f"INSERT INTO {STATE_SCHEMA}.seed_state VALUES ($1)", fingerprint)
        await conn.execute("ANALYZE")
        _say(f"seeded in {time.perf_counter() - started:.1f}s")
        return True
    finally:
        await conn.close()


def _say(message: str) -> None:
    sys.stderr.write(f"[seed] {message}\n")


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def main(argv: Sequence[str] | None = None) -> None:
    defaults = SeedParams()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    for name, value in asdict(defaults).items():
        if isinstance(value, tuple):  # a comma list: --feed_follows 1000,10000
            parser.add_argument(f"--{name}", type=_ints, default=value)
        else:
            parser.add_argument(f"--{name}", type=int, default=value)
    parser.add_argument("--force", action="store_true", help="reload even if already seeded")
    args = parser.parse_args(argv)
    if not args.database_url or not args.database_url.startswith("postgresql"):
        parser.error("DATABASE_URL (or --database-url) must point at PostgreSQL")
    params = SeedParams(**{k: getattr(args, k) for k in asdict(defaults)})
    asyncio.run(seed(args.database_url, params, force=args.force))


if __name__ == "__main__":
    main()
