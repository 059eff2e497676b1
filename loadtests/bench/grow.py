"""Grow the seeded posts in place for `make bench-scale`: 100k -> 1M -> 5M, in SQL.

New posts look like the seed's (loadtests/seed.py): authors skewed the same way over the same
users (`users * random()^2`), 10% drafts, created_at spread over the same year, metadata of
the same shape, 0-3 tags each, slug `post-<id>`; titles and bodies from a pool of texts the
seed's own sentence generator made. Users, follows, comments and likes are the seed's.

Fast: `INSERT ... SELECT generate_series(...)` in `jobs` sessions over disjoint id ranges,
foreign-key triggers off for the session (`session_replication_role = replica`: every id it
writes exists), the posts' and post_tags' secondary indexes dropped before and built again
after (the same definitions, from `pg_indexes`), then `VACUUM (ANALYZE)`. The normal seed's
fingerprint is dropped first, so `make bench` re-seeds a grown database from zero.
"""

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any

import asyncpg

from loadtests.bench.cluster import _dsn
from loadtests.seed import EPOCH, LANGS, SPAN_SECONDS, STATE_SCHEMA, SeedParams, _sentence

TEXTS = 4096
"""Distinct (title, body) pairs the new posts draw from."""
TABLES = ("posts", "post_tags")

_INSERT_POSTS = f"""
INSERT INTO posts (id, author_id, title, body, status, like_count, version, metadata,
                   created_at, updated_at, deleted_at, slug)
SELECT r.g, r.author, t.title, t.body, r.status, 0, 1, r.meta, r.created, r.created, NULL,
       'post-' || r.g
FROM (
    SELECT g,
           floor($3 * power(random(), 2))::bigint + 1 AS author,
           CASE WHEN random() < 0.1 THEN 'draft' ELSE 'published' END AS status,
           jsonb_build_object('lang', ($4::text[])[1 + floor(random() * 5)::int],
                              'reading_minutes', 1 + floor(random() * 20)::int) AS meta,
           $5::timestamptz - floor(random() * $6) * interval '1 second' AS created,
           floor(random() * {TEXTS})::int AS text_no
    FROM generate_series($1::bigint, $2::bigint) AS g
    OFFSET 0
) AS r
JOIN {STATE_SCHEMA}.scale_texts AS t ON t.n = r.text_no
"""

# 0-3 distinct tags per post: `n` consecutive tags from a random start, modulo the tag count.
_INSERT_TAGS = """
INSERT INTO post_tags (post_id, tag_id)
SELECT p.g, ($3::bigint[])[1 + (p.s + k) % cardinality($3::bigint[])]
FROM (
    SELECT g, floor(random() * 4)::int AS n,
           floor(random() * cardinality($3::bigint[]))::int AS s
    FROM generate_series($1::bigint, $2::bigint) AS g
    OFFSET 0
) AS p
CROSS JOIN LATERAL generate_series(0, p.n - 1) AS k
"""

# Secondary indexes only: the primary key and unique constraints stay (and check every row).
_SECONDARY = """
SELECT i.indexname, i.indexdef FROM pg_indexes AS i
WHERE i.schemaname = current_schema() AND i.tablename = ANY($1::text[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c
                  WHERE c.conindid = (quote_ident(i.indexname))::regclass)
ORDER BY i.indexdef LIKE '%gin%' DESC, i.indexname
"""


@dataclass(frozen=True)
class Step:
    """One growth step: how many posts were added and where the time went."""

    size: int
    added: int
    insert_s: float = 0.0
    index_s: float = 0.0
    vacuum_s: float = 0.0

    @property
    def total_s(self) -> float:
        return self.insert_s + self.index_s + self.vacuum_s


def ranges(low: int, high: int, parts: int) -> list[tuple[int, int]]:
    """`low..high` (inclusive) in at most `parts` contiguous, disjoint, non-empty ranges."""
    count = high - low + 1
    if count <= 0:
        return []
    parts = max(1, min(parts, count))
    size, extra = divmod(count, parts)
    out, start = [], low
    for i in range(parts):
        end = start + size + (1 if i < extra else 0) - 1
        out.append((start, end))
        start = end + 1
    return out


async def post_count(url: str) -> int:
    conn = await asyncpg.connect(_dsn(url))
    try:
        return int(await conn.fetchval("SELECT count(*) FROM posts"))
    finally:
        await conn.close()


async def _texts(conn: asyncpg.Connection, params: SeedParams) -> None:
    table = f"{STATE_SCHEMA}.scale_texts"
    await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {STATE_SCHEMA}")
    columns = "n int PRIMARY KEY, title text, body text"
    await conn.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
    if await conn.fetchval(f"SELECT count(*) FROM {table}") == TEXTS:
        return
    await conn.execute(f"TRUNCATE {table}")
    rng = random.Random(f"{params.seed}:scale_texts")
    rows = [(n, _sentence(rng, 3, 9).capitalize(), _sentence(rng, 40, 120)) for n in range(TEXTS)]
    await conn.copy_records_to_table("scale_texts", records=rows, schema_name=STATE_SCHEMA)


async def _insert(url: str, low: int, high: int, params: SeedParams, tags: list[int]) -> None:
    conn = await asyncpg.connect(_dsn(url))
    try:
        await conn.execute("SET session_replication_role = replica")
        await conn.execute("SELECT setseed($1)", (low % 1_000_003) / 1_000_003)
        epoch, span = EPOCH, float(SPAN_SECONDS)
        await conn.execute(_INSERT_POSTS, low, high, params.users, list(LANGS), epoch, span)
        if tags:
            await conn.execute(_INSERT_TAGS, low, high, tags)
    finally:
        await conn.close()


async def _build(url: str, queue: "asyncio.Queue[str]") -> None:
    conn = await asyncpg.connect(_dsn(url))
    try:
        await conn.execute("SET maintenance_work_mem = '1GB'")
        while not queue.empty():
            await conn.execute(queue.get_nowait())
    finally:
        await conn.close()


async def _rebuild(url: str, definitions: list[str], jobs: int) -> None:
    queue: asyncio.Queue[str] = asyncio.Queue()
    for definition in definitions:  # the GIN indexes first: the longest builds
        queue.put_nowait(definition.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1))
    await asyncio.gather(*(_build(url, queue) for _ in range(max(1, jobs))))


async def grow_to(url: str, size: int, params: SeedParams, jobs: int = 2) -> Step:
    """Add posts (ids after the highest) until there are `size`; a no-op when there are."""
    conn = await asyncpg.connect(_dsn(url))
    try:
        top = int(await conn.fetchval("SELECT coalesce(max(id), 0) FROM posts"))
        count = int(await conn.fetchval("SELECT count(*) FROM posts"))
        if count >= size:
            return Step(size, 0)
        await _texts(conn, params)
        await conn.execute(f"DROP TABLE IF EXISTS {STATE_SCHEMA}.seed_state")
        tags = [int(r["id"]) for r in await conn.fetch("SELECT id FROM tags ORDER BY id")]
        found: list[Any] = await conn.fetch(_SECONDARY, list(TABLES))
        definitions = [r["indexdef"] for r in found]
        started = time.perf_counter()
        try:
            for row in found:
                await conn.execute(f'DROP INDEX IF EXISTS "{row["indexname"]}"')
            low, high = top + 1, top + size - count
            await asyncio.gather(
                *(_insert(url, a, b, params, tags) for a, b in ranges(low, high, jobs))
            )
            inserted = time.perf_counter()
        finally:
            await _rebuild(url, definitions, jobs)  # also after a failure: never left without
        indexed = time.perf_counter()
        await conn.execute(
            "SELECT setval(pg_get_serial_sequence('posts', 'id'), (SELECT max(id) FROM posts))"
        )
        await conn.execute("VACUUM (ANALYZE) posts, post_tags")
        done = time.perf_counter()
        return Step(size, size - count, inserted - started, indexed - inserted, done - indexed)
    finally:
        await conn.close()
