"""The reference: Starlette + raw asyncpg serving the service's hot paths with the same shape.

`make bench` runs the same hot-path scenarios against this app and against the service in the
same run; the service's throughput is gated as a ratio of this one. Only published, non-deleted
posts are served, exactly as the service does for an anonymous reader.

Run: `DATABASE_URL=... uvicorn loadtests.reference.app:app`.
"""

import base64
import hashlib
import hmac
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

POST_COLUMNS = """
    p.id, p.slug, p.title, p.body, p.status, p.metadata, p.like_count, p.version,
    p.created_at, p.updated_at,
    u.id AS author_id, u.username, u.display_name, u.created_at AS author_created_at,
    ARRAY(
        SELECT t.name FROM post_tags pt JOIN tags t ON t.id = pt.tag_id
        WHERE pt.post_id = p.id ORDER BY t.name
    ) AS tags
"""
GET_POST = f"""
SELECT {POST_COLUMNS}
FROM posts p JOIN users u ON u.id = p.author_id
WHERE p.id = $1 AND p.deleted_at IS NULL AND p.status = 'published'
"""
FIRST_PAGE = f"""
SELECT {POST_COLUMNS}
FROM posts p JOIN users u ON u.id = p.author_id
WHERE p.status = 'published' AND p.deleted_at IS NULL
ORDER BY p.created_at DESC, p.id DESC
LIMIT $1
"""
CURSOR_KEY = hashlib.sha256(b"inkwell-reference-cursor").digest()


def _when(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _post(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "slug": row["slug"],
        "title": row["title"],
        "body": row["body"],
        "status": row["status"],
        "metadata": json.loads(row["metadata"]),
        "like_count": row["like_count"],
        "version": row["version"],
        "created_at": _when(row["created_at"]),
        "updated_at": _when(row["updated_at"]),
        "author": {
            "id": row["author_id"],
            "username": row["username"],
            "display_name": row["display_name"],
            "created_at": _when(row["author_created_at"]),
        },
        "tags": row["tags"],
    }


def _cursor(row: asyncpg.Record) -> str:
    payload = json.dumps(["-created_at", [row["created_at"].isoformat(), row["id"]]]).encode()
    signature = hmac.new(CURSOR_KEY, payload, hashlib.sha256).digest()[:16]
    encode = base64.urlsafe_b64encode
    return f"{encode(payload).decode().rstrip('=')}.{encode(signature).decode().rstrip('=')}"


def _pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.pool
    return pool


async def get_post(request: Request) -> Response:
    try:
        post_id = int(request.path_params["post_id"])
    except ValueError:
        return JSONResponse({"detail": "bad id"}, status_code=422)
    async with _pool(request).acquire() as conn:
        row = await conn.fetchrow(GET_POST, post_id)
    if row is None:
        return JSONResponse({"detail": "No such post."}, status_code=404)
    return JSONResponse(_post(row), headers={"ETag": f'"{row["id"]}-{row["version"]}"'})


async def list_posts(request: Request) -> Response:
    limit = min(max(int(request.query_params.get("limit", "20")), 1), 100)
    async with _pool(request).acquire() as conn:
        rows = await conn.fetch(FIRST_PAGE, limit + 1)
    items = [_post(r) for r in rows[:limit]]
    next_cursor = _cursor(rows[limit - 1]) if len(rows) > limit else None
    return JSONResponse({"items": items, "next_cursor": next_cursor})


async def live(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    dsn = os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://", 1)
    size = int(os.environ.get("DB_POOL_SIZE", "10"))
    app.state.pool = await asyncpg.create_pool(dsn, min_size=size, max_size=size)
    try:
        yield
    finally:
        await app.state.pool.close()


app = Starlette(
    routes=[
        Route("/api/v1/posts/{post_id}", get_post),
        Route("/api/v1/posts", list_posts),
        Route("/health/live", live),
    ],
    lifespan=lifespan,
)
