"""The reference: Starlette + raw asyncpg serving the service's read endpoints, same JSON.

`make bench` measures every read endpoint of the browse and read scenarios against this app,
the service and the idiomatic app back to back, and gates the service's server CPU per request
as a ratio of this one. The JSON is the service's, field for field (the harness compares the
three on live responses before measuring): posts with author and tags, pages with a signed
`next_cursor` (null on the last page) that the service would also accept, comments with their
`reply_count`. Only published, non-deleted posts are served, as to an anonymous reader.

Endpoints: `GET /api/v1/posts/{id}`, `GET /api/v1/posts?limit&cursor&author_id&sort`
(`-created_at` or `created_at`, `status=published` only), `GET /api/v1/posts/{id}/comments`,
and the signed-in `GET /api/v1/users/me/feed?limit&cursor` (its token's user read on every
request, as the service does; the statement in `feed.py`).

Run: `DATABASE_URL=... JWT_SECRET=... uvicorn loadtests.reference.app:app`.
"""

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from loadtests.cursors import COMMENTS, NEWEST, OLDEST, Cursors
from loadtests.reference import feed, writes
from loadtests.reference.columns import POST_COLUMNS, maybe_when, when

VISIBLE = "p.status = 'published' AND p.deleted_at IS NULL"
GET_POST = f"""
SELECT {POST_COLUMNS}
FROM posts p JOIN users u ON u.id = p.author_id
WHERE p.id = $1 AND {VISIBLE}
"""
FIRST_PAGE = f"""
SELECT {POST_COLUMNS}
FROM posts p JOIN users u ON u.id = p.author_id
WHERE {VISIBLE}
ORDER BY p.created_at DESC, p.id DESC
LIMIT $1
"""


def _listing(*, descending: bool, author: bool, cursor: bool) -> str:
    """One fixed statement per (sort, author filter, cursor) combination; $1 is the limit."""
    where = [VISIBLE]
    if author:
        where.append("p.author_id = $2")
    if cursor:
        first = 3 if author else 2
        where.append(f"(p.created_at, p.id) {'<' if descending else '>'} (${first}, ${first + 1})")
    order = "DESC" if descending else "ASC"
    return f"""
SELECT {POST_COLUMNS}
FROM posts p JOIN users u ON u.id = p.author_id
WHERE {" AND ".join(where)}
ORDER BY p.created_at {order}, p.id {order}
LIMIT $1
"""


LISTINGS = {
    (sort, author, cursor): _listing(descending=sort == NEWEST, author=author, cursor=cursor)
    for sort in (NEWEST, OLDEST)
    for author in (False, True)
    for cursor in (False, True)
}
POST_VISIBLE = "SELECT EXISTS (SELECT 1 FROM posts p WHERE p.id = $1 AND " + VISIBLE + ")"
_SHOWN = "(r.deleted_at IS NULL OR EXISTS (SELECT 1 FROM comments rr WHERE rr.parent_id = r.id))"


def _comments(*, cursor: bool) -> str:
    after = "AND c.id > $3" if cursor else ""
    return f"""
SELECT c.id, c.post_id, c.parent_id, c.body, c.deleted_at IS NOT NULL AS deleted, c.created_at,
       u.id AS author_id, u.username, u.display_name, u.created_at AS author_created_at,
       (SELECT count(*) FROM comments r WHERE r.parent_id = c.id AND {_SHOWN}) AS reply_count
FROM comments c JOIN users u ON u.id = c.author_id
WHERE c.post_id = $1 AND c.parent_id IS NULL
  AND (c.deleted_at IS NULL OR EXISTS (SELECT 1 FROM comments r WHERE r.parent_id = c.id))
  {after}
ORDER BY c.id
LIMIT $2
"""


COMMENTS_PAGE = {cursor: _comments(cursor=cursor) for cursor in (False, True)}


def _author(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["author_id"],
        "username": row["username"],
        "display_name": row["display_name"],
        "created_at": when(row["author_created_at"]),
    }


def _post(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "slug": row["slug"],
        "title": row["title"],
        "body": row["body"],
        "status": row["status"],
        "publish_at": maybe_when(row["publish_at"]),
        "metadata": json.loads(row["metadata"]),
        "like_count": row["like_count"],
        "version": row["version"],
        "created_at": when(row["created_at"]),
        "updated_at": when(row["updated_at"]),
        "author": _author(row),
        "tags": row["tags"],
        "bookmarked": row.get("bookmarked", False),
    }


def _comment(row: asyncpg.Record) -> dict[str, Any]:
    deleted: bool = row["deleted"]
    return {
        "id": str(row["id"]),
        "post_id": row["post_id"],
        "parent_id": None if row["parent_id"] is None else str(row["parent_id"]),
        "body": None if deleted else row["body"],
        "author": None if deleted else _author(row),
        "deleted": deleted,
        "reply_count": row["reply_count"],
        "created_at": when(row["created_at"]),
    }


def _pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.pool
    return pool


def _cursors(request: Request) -> Cursors:
    cursors: Cursors = request.app.state.cursors
    return cursors


def _problem(status: int, detail: str) -> Response:
    return JSONResponse({"detail": detail}, status_code=status)


def _limit(request: Request) -> int:
    return min(max(int(request.query_params.get("limit", "20")), 1), 100)


async def get_post(request: Request) -> Response:
    try:
        post_id = int(request.path_params["post_id"])
    except ValueError:
        return _problem(422, "bad id")
    async with _pool(request).acquire() as conn:
        row = await conn.fetchrow(GET_POST, post_id)
    if row is None:
        return _problem(404, "No such post.")
    return JSONResponse(_post(row), headers={"ETag": f'"{row["id"]}-{row["version"]}"'})


async def list_posts(request: Request) -> Response:
    query = request.query_params
    try:
        limit = _limit(request)
        sort = query.get("sort", NEWEST)
        if sort not in (NEWEST, OLDEST) or query.get("status", "published") != "published":
            return _problem(400, "the reference serves published posts by created_at only")
        args: list[Any] = [limit + 1]
        if "author_id" in query:
            args.append(int(query["author_id"]))
        cursor = query.get("cursor")
        listing = Cursors.listing(request.url.path, query.multi_items())
        if cursor:
            args.extend(_cursors(request).decode(cursor, sort, listing))
    except ValueError as error:
        return _problem(400, str(error))
    statement = LISTINGS[(sort, "author_id" in query, bool(cursor))]
    async with _pool(request).acquire() as conn:
        rows = await conn.fetch(statement, *args)
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = _cursors(request).encode(sort, [last["created_at"], last["id"]], listing)
    return JSONResponse({"items": [_post(r) for r in rows[:limit]], "next_cursor": next_cursor})


async def list_comments(request: Request) -> Response:
    try:
        post_id = int(request.path_params["post_id"])
        limit = _limit(request)
        cursor = request.query_params.get("cursor")
        listing = Cursors.listing(request.url.path, request.query_params.multi_items())
        after = _cursors(request).decode(cursor, COMMENTS, listing)[0] if cursor else None
    except ValueError as error:
        return _problem(400, str(error))
    async with _pool(request).acquire() as conn:
        if not await conn.fetchval(POST_VISIBLE, post_id):
            return _problem(404, "No such post.")
        args = (post_id, limit + 1) if after is None else (post_id, limit + 1, after)
        rows = await conn.fetch(COMMENTS_PAGE[after is not None], *args)
    next_cursor = None
    if len(rows) > limit:
        next_cursor = _cursors(request).encode(COMMENTS, [rows[limit - 1]["id"]], listing)
    return JSONResponse({"items": [_comment(r) for r in rows[:limit]], "next_cursor": next_cursor})


async def read_feed(request: Request) -> Response:
    secret = os.environ.get("JWT_SECRET", "")
    try:
        limit = _limit(request)
        user_id, version = feed.token_user(request.headers.get("authorization", ""), secret)
        cursor = request.query_params.get("cursor")
        listing = Cursors.listing(request.url.path, request.query_params.multi_items())
        after = _cursors(request).decode(cursor, NEWEST, listing) if cursor else None
    except ValueError as error:
        return _problem(400 if "cursor" in str(error) else 401, str(error))
    async with _pool(request).acquire() as conn:
        if await conn.fetchval(feed.TOKEN_VERSION, user_id) != version:
            return _problem(401, "The access token is no longer valid.")
        statement = feed.PAGE[(after is not None, limit + 1)]
        rows = await conn.fetch(statement, user_id, *(after or ()))
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = _cursors(request).encode(NEWEST, [last["created_at"], last["id"]], listing)
    return JSONResponse({"items": [_post(r) for r in rows[:limit]], "next_cursor": next_cursor})


async def live(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    dsn = os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://", 1)
    size = int(os.environ.get("DB_POOL_SIZE", "10"))
    app.state.cursors = Cursors(os.environ.get("JWT_SECRET", ""))
    app.state.pool = await asyncpg.create_pool(dsn, min_size=size, max_size=size)
    try:
        yield
    finally:
        await app.state.pool.close()


app = Starlette(
    routes=[
        Route("/api/v1/posts/{post_id}", get_post),
        Route("/api/v1/posts/{post_id}/comments", list_comments),
        Route("/api/v1/posts", list_posts, methods=["GET", "HEAD"]),
        Route("/api/v1/posts", writes.create_post, methods=["POST"]),
        Route("/api/v1/users/me/feed", read_feed),
        Route("/health/live", live),
    ],
    lifespan=lifespan,
)
