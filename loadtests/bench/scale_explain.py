"""`make bench-scale`: the plans behind the numbers, `<size>/explain.txt` at every size.

The service's own compiled statements (the SQL asyncpg runs), prepared and executed under
`plan_cache_mode = force_generic_plan` as the service runs them, `EXPLAIN (ANALYZE, BUFFERS)`
with one value from the size's fixture each: why a read grows, if one does.
"""

from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy.dialects import postgresql

from loadtests.bench.cluster import PROBE_LISTINGS, _dsn, seed_params
from loadtests.cursors import NEWEST, Cursors
from loadtests.seed import feed_readers


def _literal(value: Any) -> str:
    if isinstance(value, int | float):
        return str(value)
    return (
        "'"
        + str(value.isoformat() if isinstance(value, datetime) else value).replace("'", "''")
        + "'"
    )


def statements(fixture: dict[str, Any], secret: str) -> dict[str, tuple[Any, dict[str, Any]]]:
    """Read name -> (the service's CompiledRead, its parameters)."""
    from service.feed import queries as feed
    from service.posts import queries as posts
    from service.posts.schemas import PostSort

    def shape(author: bool = False, cursor: bool = False) -> Any:
        flags = dict.fromkeys(("created_after", "created_before", "tag", "q", "meta"), False)
        return posts.Shape(
            "postgresql", PostSort.newest, author, **flags, commented_by=False, cursor=cursor
        )

    after = Cursors(secret).decode(fixture["deep_cursors"][0], NEWEST, PROBE_LISTINGS[NEWEST])
    reader = next(u for u, n in feed_readers(seed_params()).items() if n == 1_000)
    published = {"status": "published"}
    return {
        "GET /posts/{id}": (posts.BY_ID, {"post_id": fixture["published_post_ids"][0]}),
        "GET /posts (first page)": (posts.statement_for(shape(), 21), published),
        "GET /posts?cursor (10,000 deep)": (
            posts.statement_for(shape(cursor=True), 21),
            {**published, "after_0": after[0], "after_1": after[1]},
        ),
        "GET /posts?author_id": (
            posts.statement_for(shape(author=True), 21),
            {**published, "author_id": fixture["author_ids"][0]},
        ),
        "GET /users/me/feed (1k follows)": (feed.statement_for(False, 21), {"viewer_id": reader}),
    }


async def explain(url: str, fixture: dict[str, Any], secret: str) -> str:
    """The plans, one section per read."""
    dialect = postgresql.asyncpg.dialect()  # type: ignore[no-untyped-call]
    conn = await asyncpg.connect(
        _dsn(url), server_settings={"plan_cache_mode": "force_generic_plan"}
    )
    out: list[str] = []
    try:
        for i, (name, (read, params)) in enumerate(statements(fixture, secret).items()):
            sql, names = read._compiled(dialect)
            await conn.execute(f"PREPARE scale_{i} AS {sql}")
            values = ", ".join(_literal(params[n]) for n in names)
            rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE scale_{i}({values})")
            out += [f"== {name}", *(r[0] for r in rows), ""]
    finally:
        await conn.close()
    return "\n".join(out)
